"""Built-in commands beyond ``list-plugins``: ``serve``, ``demo`` and ``doctor``."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def _serve(args: argparse.Namespace) -> int:
    from patter_core.serve_cli import run

    return run(args)


def _configure_serve(parser: argparse.ArgumentParser) -> None:
    from patter_core.serve_cli import configure

    configure(parser)


def _demo(args: argparse.Namespace) -> int:
    from patter_core.demo import run

    return run(args)


def _configure_demo(parser: argparse.ArgumentParser) -> None:
    from patter_core.demo import configure

    configure(parser)


def _doctor(args: argparse.Namespace) -> int:
    from patter_core.doctor import run

    return run(args)


def _configure_doctor(parser: argparse.ArgumentParser) -> None:
    from patter_core.doctor import configure

    configure(parser)


def register(commands: Any) -> None:
    """Add the built-in commands to ``commands`` (a :class:`patter_core.cli.CommandRegistry`)."""
    commands.add(
        "serve", _serve, help="serve an agent: patter-core serve MODULE:ATTR", configure=_configure_serve
    )
    commands.add(
        "demo", _demo, help="run a complete simulated phone call, offline", configure=_configure_demo
    )
    commands.add(
        "doctor",
        _doctor,
        help="check plugins, keys, webhook URL, port and carrier",
        configure=_configure_doctor,
    )
