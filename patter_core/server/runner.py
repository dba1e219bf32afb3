"""Run an ASGI app on hypercorn on a real port, with graceful shutdown on an event."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

__all__ = ["bind_socket", "run_hypercorn"]

log = logging.getLogger("patter.server")


def bind_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket (``port=0`` picks a free port; read it with ``getsockname()``).

    ``reuse_port`` lets several worker processes listen on the same port (the kernel spreads
    connections between them).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(
            exc.errno,
            f"cannot listen on {host}:{port}: {exc.strerror} (is another server using the port? pass port=)",
        ) from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def run_hypercorn(
    app: Callable[..., Any],
    sock: socket.socket,
    *,
    shutdown: asyncio.Event,
    graceful_timeout: float = 10.0,
) -> None:
    from patter_core.server import hypercorn_fixes

    hypercorn_fixes.apply()
    config = Config()
    config.bind = [f"fd://{os.dup(sock.fileno())}"]  # hypercorn owns (and closes) the duplicate
    config.accesslog = None
    config.errorlog = logging.getLogger("patter.hypercorn")
    config.graceful_timeout = graceful_timeout
    config.websocket_ping_interval = None
    config.keep_alive_timeout = 75
    config.include_server_header = False
    try:
        await serve(app, config, shutdown_trigger=shutdown.wait)
    finally:
        sock.close()
