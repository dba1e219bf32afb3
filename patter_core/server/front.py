"""One public port, two stacks: media WebSockets on the lean path, everything else on hypercorn.

The server's public socket is accepted here. Each new connection's request head is read (bounded in
size and time) and looked at once:

* a ``GET`` with ``Upgrade: websocket`` on a registered media route (``/ws/stream/{call_id}`` ...) is
  served in this process by :class:`~patter_core.server.fastws.MediaWebSocket` -- the carrier's
  handler gets the same :class:`~patter_core.server.http.WebSocketConnection` it always gets;
* anything else (webhooks, ``/health``, unknown paths, malformed requests) is relayed byte for byte to
  hypercorn, which serves the quart application on a loopback socket of its own exactly as before:
  HTTP parsing, limits, keep-alive and error responses stay hypercorn's. The relay costs a few
  microseconds per webhook; the client's address is passed on to the application (``remote_addr``).

Why: hypercorn's WebSocket path (wsproto framing, per-message events and queues) took about half of
the server's CPU per call under load (``bench/load.py``, ``docs/benchmarks.md``); media sockets carry
fifty small frames a second per direction for the whole call, webhooks a few requests per call.

``PATTER_MEDIA_SERVER=hypercorn`` turns the lean path off (every connection goes to hypercorn, media
sockets through the raw-ASGI adapter), e.g. to compare or to rule it out when debugging.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

from patter_core.server.asgi import run_media_handler
from patter_core.server.fastws import MediaWebSocket
from patter_core.server.http import WebSocketConnection

__all__ = ["FrontDoor", "lean_media_enabled", "serve_front"]

log = logging.getLogger("patter.server")

MAX_HEAD_BYTES = 16 * 1024
"""A request head longer than this is not a media upgrade: hypercorn gets it (and answers 431/400)."""
HEAD_TIMEOUT_S = 75.0
"""A connection that sends no complete request head within this is closed (hypercorn's keep-alive)."""

WsHandler = Callable[[WebSocketConnection], Awaitable[None]]
RouteMatch = Callable[[str], "tuple[WsHandler, dict[str, str]] | None"]
_HEAD, _WS, _PROXY = 0, 1, 2


def lean_media_enabled() -> bool:
    """Whether media WebSockets take the lean path (``PATTER_MEDIA_SERVER`` is not ``hypercorn``)."""
    return os.environ.get("PATTER_MEDIA_SERVER", "websockets").strip().lower() != "hypercorn"


def _media_request(head: bytes) -> tuple[str, str] | None:
    """``(path, query)`` when ``head`` is an HTTP/1.1 ``GET`` asking to upgrade to a WebSocket."""
    line_end = head.find(b"\r\n")
    parts = head[:line_end].split(b" ")
    if len(parts) != 3 or parts[0] != b"GET" or parts[2] != b"HTTP/1.1":
        return None
    upgrade = False
    for line in head[line_end + 2 :].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"upgrade" and b"websocket" in value.lower():
            upgrade = True
            break
    if not upgrade:
        return None
    try:
        target = parts[1].decode("ascii")
    except UnicodeDecodeError:
        return None
    raw_path, _, query = target.partition("?")
    return unquote(raw_path), query


class FrontDoor:
    """Accepts connections and routes each one; see the module docstring."""

    def __init__(self, match: RouteMatch, upstream: tuple[str, int]) -> None:
        self.match = match
        self.upstream = upstream
        self.peers: dict[int, Any] = {}
        """Local port of each relay connection to hypercorn -> the real client's address."""
        self.connections: set[_Connection] = set()
        self.handlers: set[asyncio.Task[None]] = set()

    def protocol(self) -> _Connection:
        return _Connection(self)

    def close_idle(self) -> None:
        """Shutting down: drop connections that have not sent a complete request yet."""
        for conn in list(self.connections):
            if conn.state == _HEAD and conn.transport is not None:
                conn.transport.close()

    async def finish_media(self, timeout: float) -> None:
        """Wait (bounded) for media handlers to end, then cancel the ones still running."""
        if self.handlers:
            _, pending = await asyncio.wait(set(self.handlers), timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2)

    def abort_all(self) -> None:
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()


class _Connection(asyncio.Protocol):
    """One accepted connection: reading its head, then a media WebSocket or a relay to hypercorn."""

    def __init__(self, door: FrontDoor) -> None:
        self.door = door
        self.state = _HEAD
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.ws: MediaWebSocket | None = None
        self.upstream: asyncio.Transport | None = None
        self.backlog: list[bytes] = []
        self.client_eof = False
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.door.connections.add(self)
        self.timer = asyncio.get_running_loop().call_later(HEAD_TIMEOUT_S, transport.close)

    def data_received(self, data: bytes) -> None:
        state = self.state
        if state == _WS:
            assert self.ws is not None
            self.ws.feed(data)
        elif state == _PROXY:
            if self.upstream is not None:
                self.upstream.write(data)
            else:
                self.backlog.append(data)
        else:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end >= 0:
                self._route(end)
            elif len(self.head) > MAX_HEAD_BYTES:
                self._relay()

    def _route(self, end: int) -> None:
        if self.timer is not None:
            self.timer.cancel()
        request = _media_request(self.head[: end + 4])
        found = self.door.match(request[0]) if request is not None else None
        if request is None or found is None:
            self._relay()
            return
        handler, params = found
        assert self.transport is not None
        self.state = _WS
        head, self.head = self.head, b""
        self.ws = MediaWebSocket(
            self.transport, head, path=request[0], query_string=request[1], path_params=params
        )
        task = asyncio.get_running_loop().create_task(run_media_handler(handler, self.ws))
        self.door.handlers.add(task)
        task.add_done_callback(self.door.handlers.discard)

    # -- relay to hypercorn ------------------------------------------------------------------------

    def _relay(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.state = _PROXY
        self.backlog.append(self.head)
        self.head = b""
        assert self.transport is not None
        self.transport.pause_reading()
        asyncio.get_running_loop().create_task(self._connect_upstream())

    async def _connect_upstream(self) -> None:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        host, port = self.door.upstream
        try:
            upstream, _ = await loop.create_connection(lambda: _Upstream(self), host, port)
        except OSError as exc:
            log.warning("cannot reach the internal HTTP server: %s", exc)
            self.transport.abort()
            return
        if self.transport.is_closing():
            upstream.close()
            return
        self.upstream = upstream
        peer = self.transport.get_extra_info("peername")
        local = upstream.get_extra_info("sockname")
        if isinstance(local, tuple) and isinstance(peer, tuple):
            self.door.peers[local[1]] = (peer[0], peer[1])
        upstream.write(b"".join(self.backlog))
        self.backlog.clear()
        if self.client_eof and upstream.can_write_eof():
            upstream.write_eof()
        self.transport.resume_reading()

    # -- asyncio.Protocol --------------------------------------------------------------------------

    def eof_received(self) -> bool | None:
        if self.state == _WS:
            assert self.ws is not None
            self.ws.eof_received()
            return None
        if self.state == _PROXY:
            self.client_eof = True
            if self.upstream is not None and self.upstream.can_write_eof():
                self.upstream.write_eof()
            return True  # keep our side open for the response
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.door.connections.discard(self)
        if self.ws is not None:
            self.ws.connection_lost(exc)
        if self.upstream is not None:
            self.upstream.close()

    def pause_writing(self) -> None:
        if self.ws is not None:
            self.ws.pause_writing()
        elif self.upstream is not None:
            self.upstream.pause_reading()

    def resume_writing(self) -> None:
        if self.ws is not None:
            self.ws.resume_writing()
        elif self.upstream is not None:
            self.upstream.resume_reading()


class _Upstream(asyncio.Protocol):
    """The relay's connection to hypercorn: everything it says goes back to the client."""

    def __init__(self, client: _Connection) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        client = self.client.transport
        if client is not None and not client.is_closing():
            client.write(data)

    def eof_received(self) -> bool | None:
        client = self.client.transport
        if client is not None and not client.is_closing() and client.can_write_eof():
            client.write_eof()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            local = self.transport.get_extra_info("sockname")
            if isinstance(local, tuple):
                self.client.door.peers.pop(local[1], None)
        client = self.client.transport
        if client is not None:
            client.close()

    def pause_writing(self) -> None:
        if self.client.transport is not None:
            self.client.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.client.transport is not None:
            self.client.transport.resume_reading()


class _ClientAddress:
    """ASGI middleware: requests relayed by the front door carry the real client address."""

    def __init__(self, app: Callable[..., Awaitable[None]], peers: dict[int, Any]) -> None:
        self.app = app
        self.peers = peers

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        client = scope.get("client")
        if client and scope.get("type") in ("http", "websocket"):
            peer = self.peers.get(client[1])
            if peer is not None:
                scope = {**scope, "client": peer}
        await self.app(scope, receive, send)


async def serve_front(
    app: Callable[..., Awaitable[None]],
    match: RouteMatch,
    sock: socket.socket,
    *,
    shutdown: asyncio.Event,
    graceful_timeout: float = 10.0,
) -> None:
    """Serve ``app`` (hypercorn, on an internal loopback socket) and media routes on ``sock``."""
    from patter_core.server.runner import bind_socket, run_hypercorn

    internal = bind_socket("127.0.0.1", 0)
    door = FrontDoor(match, ("127.0.0.1", internal.getsockname()[1]))
    hyper_stop = asyncio.Event()
    hyper = asyncio.ensure_future(
        run_hypercorn(
            _ClientAddress(app, door.peers), internal, shutdown=hyper_stop, graceful_timeout=graceful_timeout
        )
    )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(door.protocol, sock=sock, backlog=1024)
    stopping = asyncio.ensure_future(shutdown.wait())
    try:
        await asyncio.wait({hyper, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if hyper.done():
            hyper.result()  # hypercorn failed: raise its error
            raise RuntimeError("the internal HTTP server stopped unexpectedly")
    finally:
        stopping.cancel()
        server.close()
        door.close_idle()
        await door.finish_media(graceful_timeout)
        hyper_stop.set()  # hypercorn finishes the requests in flight; their relays close after them
        if not hyper.done():
            try:
                await asyncio.wait_for(asyncio.shield(hyper), graceful_timeout + 5)
            except (TimeoutError, asyncio.CancelledError):
                hyper.cancel()
        door.abort_all()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)
