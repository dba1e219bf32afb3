"""``patter-core serve MODULE:ATTR``: run your agent from the command line.

``ATTR`` is an :class:`~patter_core.agent.Agent`, or a factory returning one (called with the
:class:`~patter_core.phone.Patter` when it takes an argument, so it can use ``phone.agent(...)``).
Settings come from options, else the environment (an optional ``.env`` is read first, never
overriding real variables): ``PATTER_CARRIER``, ``PATTER_PHONE_NUMBER``, ``PATTER_WEBHOOK_URL``,
``PATTER_SECRET`` and each provider's own keys.

``--workers N`` starts N processes on the same port (``SO_REUSEPORT``); they share one signing secret
so a call admitted by one worker may stream to another.

Each process runs on uvloop when it is installed (``pip install "patter-core[speed]"``;
``PATTER_UVLOOP=0`` opts out) and freezes its start-up objects out of the garbage collector's full
passes once it is ready (:mod:`patter_core.server.tuning`); both measured in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import os
import secrets
import signal
import subprocess
import sys
from typing import Any

from patter_core.dotenv import load_dotenv
from patter_core.errors import ConfigurationError

__all__ = ["configure", "load_target", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", help="MODULE:ATTR -- an Agent, or a factory returning one")
    parser.add_argument("--host", default="0.0.0.0", help="interface to listen on (default 0.0.0.0)")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", "8000")), help="port (default 8000 or $PORT)"
    )
    parser.add_argument(
        "--webhook-url", default=None, help="public host name the carrier reaches (or $PATTER_WEBHOOK_URL)"
    )
    parser.add_argument(
        "--carrier", default=None, help="carrier name (or $PATTER_CARRIER; default: the only one installed)"
    )
    parser.add_argument("--phone-number", default=None, help="your number, E.164 (or $PATTER_PHONE_NUMBER)")
    parser.add_argument(
        "--tunnel", action="store_true", help="expose the port through a cloudflared quick tunnel"
    )
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the port (default 1)")
    parser.add_argument(
        "--env-file", default=".env", help="read variables from this file first (default .env)"
    )
    parser.add_argument("--recordings", default=None, help="write a stereo WAV per call into this directory")
    parser.add_argument(
        "--configure-number", action="store_true", help="point the carrier number's webhook here"
    )


def load_target(spec: str) -> Any:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigurationError(f"serve needs MODULE:ATTR (e.g. myapp:agent), got {spec!r}")
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import {module_name!r}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigurationError(f"{module_name!r} has no attribute {attr!r}") from None


def _carrier_name(args: argparse.Namespace, registry: Any) -> str | None:
    name = args.carrier or os.environ.get("PATTER_CARRIER")
    if name:
        return str(name)
    installed = registry.network_carriers()
    if len(installed) == 1:
        return str(installed[0])
    if not installed:
        return None
    raise ConfigurationError(
        f"several carriers are installed ({', '.join(installed)}): pass --carrier or set PATTER_CARRIER"
    )


_WORKER_ENV = "PATTER_SERVE_WORKER"  # set on the processes --workers starts: they bind with SO_REUSEPORT


def run(args: argparse.Namespace) -> int:
    load_dotenv(args.env_file)
    if args.workers < 1:
        raise ConfigurationError("--workers must be at least 1")
    children: list[subprocess.Popen[bytes]] = []
    if args.workers > 1:
        if args.tunnel:
            raise ConfigurationError(
                "--tunnel works with one worker; put a load balancer in front of several"
            )
        if not args.port:
            raise ConfigurationError("--workers shares one port between processes: pass --port (not 0)")
        os.environ.setdefault("PATTER_SECRET", secrets.token_urlsafe(32))
        child_args = _without_workers(sys.argv[1:])
        for _ in range(args.workers - 1):
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "patter_core.cli", *child_args, "--workers=1"],
                    env={**os.environ, _WORKER_ENV: "1"},
                )
            )
    from patter_core.server.tuning import loop_factory

    try:  # uvloop when installed (patter-core[speed]; PATTER_UVLOOP=0 to opt out)
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            reuse_port = args.workers > 1 or os.environ.get(_WORKER_ENV) == "1"
            return runner.run(_serve(args, reuse_port=reuse_port))
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=15)


def _without_workers(argv: list[str]) -> list[str]:
    """``argv`` minus ``--workers N`` / ``--workers=N``: the children are started with one worker each."""
    kept: list[str] = []
    skip_next = False
    for arg in argv:
        if skip_next:
            skip_next = False
        elif arg == "--workers":
            skip_next = True
        elif not arg.startswith("--workers="):
            kept.append(arg)
    return kept


async def _serve(args: argparse.Namespace, *, reuse_port: bool) -> int:
    from patter_core.agent import Agent
    from patter_core.phone import Patter
    from patter_core.registry import default_registry

    target = load_target(args.target)
    registry = default_registry()
    phone = Patter(
        carrier=_carrier_name(args, registry),
        phone_number=args.phone_number or os.environ.get("PATTER_PHONE_NUMBER"),
        webhook_url=args.webhook_url or os.environ.get("PATTER_WEBHOOK_URL"),
        recordings_dir=args.recordings,
    )
    agent = target
    if not isinstance(target, Agent) and callable(target):
        agent = target(phone) if inspect.signature(target).parameters else target()
        if inspect.isawaitable(agent):
            agent = await agent
    if not isinstance(agent, Agent):
        raise ConfigurationError(f"{args.target} is not an Agent or a factory returning one")
    loop = asyncio.get_running_loop()
    serving = asyncio.ensure_future(
        phone.serve(agent, host=args.host, port=args.port, tunnel=args.tunnel, reuse_port=reuse_port)
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(phone.stop()))
    ready = asyncio.ensure_future(phone.wait_ready(timeout=60))
    await asyncio.wait({serving, ready}, return_when=asyncio.FIRST_COMPLETED)
    if serving.done():
        serving.result()  # raises the startup error
        return 1
    if args.configure_number and phone.carrier is not None:
        await _configure_number(phone)
    from patter_core.server.tuning import freeze_startup_objects

    freeze_startup_objects()  # full GC passes then scan only the calls' objects: shorter pauses under load
    print(f"Patter is serving {args.target} on {args.host}:{phone.port} (pid {os.getpid()})", flush=True)
    for method, url in phone.routes:
        print(f"  {method:5} {url}", flush=True)
    await serving
    return 0


async def _configure_number(phone: Any) -> None:
    if phone.phone_number is None:
        raise ConfigurationError("--configure-number needs --phone-number (or $PATTER_PHONE_NUMBER)")
    try:
        changed = await phone.carrier.configure_number(phone.phone_number, phone.webhook_url)
    except NotImplementedError as exc:
        print(f"{exc}", flush=True)
        return
    print(f"{phone.phone_number} " + ("now points here" if changed else "already points here"), flush=True)
