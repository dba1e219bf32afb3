"""``patter-core``: the command line.

``patter-core list-plugins [--json] [--strict]``
    what is installed: each plugin's distribution, version, entry point, providers and status.

Plugins add commands through the ``register_commands(cli)`` hook, calling ``cli.add(...)``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import attrs

__all__ = ["Command", "CommandRegistry", "build_parser", "main"]


@attrs.frozen
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]


class CommandRegistry:
    """What ``register_commands(cli)`` receives."""

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}

    def add(
        self,
        name: str,
        run: Callable[[argparse.Namespace], int | None],
        *,
        help: str = "",
        configure: Callable[[argparse.ArgumentParser], None] | None = None,
    ) -> None:
        if name in self.commands:
            raise ValueError(f"command {name!r} is already registered")
        self.commands[name] = Command(name=name, help=help, configure=configure or (lambda _p: None), run=run)


# -- list-plugins --------------------------------------------------------------------------------


def plugin_rows(registry: Any) -> list[dict[str, Any]]:
    rows = []
    for info in registry.plugins:
        rows.append(
            {
                "name": info.name,
                "version": info.version,
                "entry_point": info.entry_point,
                "module": info.module,
                "providers": registry.provided_by(info.name),
                "status": info.status,
                "error": info.error,
            }
        )
    return rows


def _list_plugins(args: argparse.Namespace) -> int:
    from patter_core.registry import Registry

    registry = Registry.build()
    rows = [r for r in plugin_rows(registry) if args.all or r["status"] != "blocked"]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        _print_table(rows)
    failed = [r for r in rows if r["error"] is not None]
    return 1 if args.strict and failed else 0


def _print_table(rows: Sequence[dict[str, Any]]) -> None:
    headers = ("plugin", "version", "entry point", "provides", "status")
    table = []
    for row in rows:
        provides = "; ".join(
            f"{kind}: {', '.join(names)}" for kind, names in row["providers"].items() if names
        )
        status = "ok" if row["error"] is None and row["status"] == "loaded" else row["status"]
        table.append((row["name"], row["version"] or "-", row["entry_point"], provides or "-", status))
    widths = [max(len(h), *(len(r[i]) for r in table)) if table else len(h) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    for row in rows:
        if row["error"]:
            print(f"\n{row['name']} failed to load: {row['error']}")


def _configure_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON array (machine-readable)")
    parser.add_argument("--strict", action="store_true", help="exit non-zero if any plugin failed to load")
    parser.add_argument(
        "--all",
        action="store_true",
        help="also list plugins blocked by PATTER_PLUGINS / PATTER_BLOCK_PLUGINS",
    )


def builtin_commands() -> CommandRegistry:
    registry = CommandRegistry()
    registry.add(
        "list-plugins",
        _list_plugins,
        help="show installed plugins and their providers",
        configure=_configure_list,
    )
    from patter_core import cli_commands

    cli_commands.register(registry)
    return registry


def build_parser(commands: CommandRegistry) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="patter-core", description="Patter: put an AI agent on the phone.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in commands.commands.values():
        sub_parser = sub.add_parser(command.name, help=command.help, description=command.help)
        command.configure(sub_parser)
        sub_parser.set_defaults(_run=command.run)
    return parser


def _plugin_commands(commands: CommandRegistry) -> None:
    from patter_core.plugins import make_plugin_manager

    pm = make_plugin_manager()
    for impl in pm.hook.register_commands.get_hookimpls():
        try:
            impl.function(commands)
        except Exception as exc:  # a broken plugin never breaks the CLI
            print(f"warning: plugin {impl.plugin_name} failed to add commands: {exc}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    commands = builtin_commands()
    _plugin_commands(commands)
    parser = build_parser(commands)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    import logging

    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from patter_core.errors import PatterError

    try:
        result = args._run(args)
    except PatterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
