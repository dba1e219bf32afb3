"""``patter-core doctor``: what stands between this machine and a phone number that answers.

It checks, in order: the installed plugins (a failed one with its error); the ``.env`` file; the
shared signing secret and the phone number; the carrier (which one, its keys, that it can be built);
the agent when one is named (``patter-core doctor myapp:agent``); the keys every installed provider
declares (``env=[...]`` registry metadata); then, concurrently and each under a timeout, the network:
that the webhook host resolves and that ``https://<host>/health`` reaches a Patter server, that the
port is free (or held by a running Patter server), that ``cloudflared`` is on PATH, and the carrier's
credentials through one read-only API call (``Carrier.check_credentials()``).

Every finding has a status -- ``ok``, ``warn`` (works, but read this), ``fail`` (must be fixed) or
``skip`` (not checked: offline, not applicable, not implemented) -- and failing lines say how to fix
them. The exit status is 0 when nothing failed, 1 otherwise. A machine without network gets "could
not check" lines, never a crash or a hang. Secret values are never printed: only whether they are set.

The checks live in :mod:`~patter_core.doctor.local` (no network) and :mod:`~patter_core.doctor.network`;
:mod:`~patter_core.doctor.findings` defines what they report. Use it from code as well::

    findings = await diagnose(DoctorOptions(webhook_url="agent.example.com"))
    print(render_text(findings))
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from patter_core.doctor.findings import DoctorOptions, Finding, Status, exit_code
from patter_core.doctor.local import (
    agent_findings,
    carrier_findings,
    dotenv_findings,
    key_findings,
    plugin_findings,
    settings_findings,
)
from patter_core.doctor.network import network_findings
from patter_core.registry import ProviderEntry, Registry

__all__ = ["DoctorOptions", "Finding", "Status", "configure", "diagnose", "exit_code", "render_text", "run"]


async def diagnose(options: DoctorOptions, *, registry: Registry | None = None) -> list[Finding]:
    """Run every check and return the findings in report order (never raises for a finding)."""
    dotenv_values, findings = dotenv_findings(Path(options.env_file))
    with _env_overlay(dotenv_values) as from_dotenv:
        registry = registry or Registry.build()
        findings = plugin_findings(registry) + findings + settings_findings()
        carrier_name, carrier, about_carrier = carrier_findings(options, registry)
        findings += about_carrier
        used: list[ProviderEntry] = []
        if options.target:
            about_agent, used = await agent_findings(options.target, registry, carrier)
            findings += about_agent
        findings += key_findings(registry, used, target=options.target, from_dotenv=from_dotenv)
        findings += await network_findings(options, carrier, carrier_name)
        if carrier is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(carrier.aclose(), options.timeout)
    return findings


@contextlib.contextmanager
def _env_overlay(values: Mapping[str, str]) -> Iterator[set[str]]:
    """Make ``.env`` values visible to the providers being built (never overriding the real
    environment, like ``serve``), and remove them afterwards so an in-process run leaves no trace."""
    added = {k for k in values if k not in os.environ}
    for key in added:
        os.environ[key] = values[key]
    try:
        yield added
    finally:
        for key in added:
            os.environ.pop(key, None)


# -- report and CLI -------------------------------------------------------------------------------

_LABEL = {Status.OK: "ok", Status.WARN: "warn", Status.FAIL: "FAIL", Status.SKIP: "skip"}


def render_text(findings: Sequence[Finding]) -> str:
    width = max((len(f.check) for f in findings), default=0)
    lines = ["Patter doctor", ""]
    for f in findings:
        lines.append(f"  {_LABEL[f.status]:<4}  {f.check:<{width}}  {f.summary}")
        if f.fix and f.status in (Status.FAIL, Status.WARN):
            lines.append(f"  {'':<4}  {'':<{width}}  fix: {f.fix}")
    counts = {s: sum(1 for f in findings if f.status is s) for s in Status}
    verdict = "nothing failed" if not counts[Status.FAIL] else f"{counts[Status.FAIL]} failed"
    lines += ["", f"{verdict}; {counts[Status.WARN]} warning(s), {counts[Status.SKIP]} not checked."]
    return "\n".join(lines)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        nargs="?",
        default=None,
        help="MODULE:ATTR of your agent or factory (optional): also check that it builds",
    )
    parser.add_argument("--carrier", default=None, help="carrier name (or $PATTER_CARRIER)")
    parser.add_argument("--webhook-url", default=None, help="public host name (or $PATTER_WEBHOOK_URL)")
    parser.add_argument("--host", default="0.0.0.0", help="interface serve will listen on (default 0.0.0.0)")
    parser.add_argument(
        "--port", type=int, default=None, help="port serve will listen on (default 8000 or $PORT)"
    )
    parser.add_argument("--env-file", default=".env", help="the .env file serve reads (default .env)")
    parser.add_argument("--offline", action="store_true", help="skip the network checks")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per network check (default 5)")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")


def run(args: argparse.Namespace) -> int:
    port = args.port if args.port is not None else int(os.environ.get("PORT", "8000") or 8000)
    options = DoctorOptions(
        target=args.target,
        carrier=args.carrier,
        webhook_url=args.webhook_url,
        host=args.host,
        port=port,
        env_file=args.env_file,
        offline=args.offline,
        timeout=max(0.1, args.timeout),
    )
    findings = asyncio.run(diagnose(options))
    if args.json:
        counts = {str(s): sum(1 for f in findings if f.status is s) for s in Status}
        print(
            json.dumps(
                {"ok": exit_code(findings) == 0, "counts": counts, "checks": [f.as_dict() for f in findings]},
                indent=2,
            )
        )
    else:
        print(render_text(findings))
    sys.stdout.flush()
    return exit_code(findings)
