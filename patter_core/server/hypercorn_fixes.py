"""A fix for hypercorn (0.18): a keep-alive connection the client closed lingers for the full
``keep_alive_timeout``.

When an HTTP/1.1 client closes an idle keep-alive connection, hypercorn reads the end of the stream
but leaves the connection's idle timer running, and the connection (its socket and three tasks) is
only released when that timer fires -- 75 s with Patter's settings (kept above a load balancer's
60 s idle timeout, as load balancers need). Every webhook client that closes its connection would
hold a socket that long: a few hundred requests a second exhaust the file descriptors. The fix
stops the idle timer once the peer has closed its side: there is nothing left to time out.
Found by the leak checks in ``tests/reliability`` (sockets left after a test's clients closed).
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["apply"]

log = logging.getLogger("patter.server")


def apply() -> None:
    """Patch hypercorn's asyncio ``TCPServer`` once (a no-op if its internals are not as expected)."""
    try:
        from hypercorn.asyncio.tcp_server import TCPServer
    except ImportError:  # pragma: no cover - hypercorn is a dependency
        return
    original = getattr(TCPServer, "_read_data", None)
    if original is None:
        log.debug("hypercorn internals changed; idle-connection fix not applied")
        return
    if getattr(original, "_patter_fix", False):
        return

    async def _read_data(self: Any) -> None:
        await original(self)
        idle = getattr(self, "idle_task", None)
        if idle is not None:
            await idle.stop()  # the peer closed the connection: release it now, not at keep-alive end

    _read_data._patter_fix = True  # type: ignore[attr-defined]
    TCPServer._read_data = _read_data  # type: ignore[method-assign]
