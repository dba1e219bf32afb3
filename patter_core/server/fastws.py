"""Media WebSockets on the ``websockets`` Sans-I/O protocol: the lean path for 50 frames a second.

A call's media stream is two small frames every 20 ms for minutes. Served through hypercorn, each
frame crosses wsproto (pure Python framing and unmasking), hypercorn's stream and event layers, an
``asyncio.Queue`` to the ASGI application and the same layers back -- about half of the server's CPU
per call in ``bench/load.py``. :class:`MediaWebSocket` drives the ``websockets`` library's
:class:`~websockets.server.ServerProtocol` (RFC 6455 framing, the handshake, pings, the closing
handshake, C-accelerated unmasking) straight from the transport: a received message is handed to the
waiting reader without a queue or task switch, and messages already buffered are returned without
suspending at all.

Outbound frames of one burst are coalesced: the first message is written at once, the ones sent
before the event loop's next turn (the player's 20 ms frames and their mark) go out in one ``write``
-- fewer system calls, identical bytes on the wire.

It implements :class:`~patter_core.server.http.WebSocketConnection` with the same semantics as the
ASGI adapter it replaces: ``close`` before ``accept`` refuses the upgrade with HTTP 403, ``receive``
raises :class:`~patter_core.server.http.WebSocketClosed` (with the peer's code) once the peer is gone,
``send`` on a gone socket raises it too, and text frames must be valid UTF-8 (else close 1007).
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections import deque
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from patter_core.server.http import WebSocketClosed, WebSocketConnection, merged_headers

__all__ = ["MAX_MESSAGE_BYTES", "MediaWebSocket"]

log = logging.getLogger("patter.server.ws")

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest message accepted (hypercorn's default); bigger ones close the socket with 1009. The media
channel drops anything over 64 KiB unparsed anyway."""
CLOSE_TIMEOUT_S = 5.0
"""How long a closing handshake may take before the TCP connection is simply closed."""
_INBOX_HIGH, _INBOX_LOW = 256, 64
"""Messages buffered for a slow reader before the socket stops being read (and when it resumes)."""
_TEXT, _BINARY, _CONT, _CLOSE = Opcode.TEXT, Opcode.BINARY, Opcode.CONT, Opcode.CLOSE
_OPEN = State.OPEN
_HEAD16, _HEAD64 = struct.Struct("!BBH"), struct.Struct("!BBQ")


class MediaWebSocket(WebSocketConnection):
    """One server-side WebSocket on ``transport``; fed by the connection's protocol (see ``front``)."""

    def __init__(
        self,
        transport: asyncio.Transport,
        head: bytes,
        *,
        path: str,
        query_string: str,
        path_params: Mapping[str, str],
    ) -> None:
        self.path = path
        self.query_string = query_string
        self.path_params = dict(path_params)
        peer = transport.get_extra_info("peername")
        self.remote_addr = peer[0] if isinstance(peer, tuple) and peer else None
        self._transport = transport
        self._loop = asyncio.get_running_loop()
        self._p = ServerProtocol(max_size=MAX_MESSAGE_BYTES, logger=log)
        self._request: Request | None = None
        self._inbox: deque[str | bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._fragments: list[bytes] = []
        self._fragment_text = False
        self._reading_paused = False
        self._accepted = False
        self._closed = False
        """Our side is done: the peer left, the connection failed, or :meth:`close` was called."""
        self._we_closed = False
        self._gone: WebSocketClosed | None = None
        """Set when the peer closed (or the connection dropped): what ``receive`` raises."""
        self._pending: list[bytes] | None = None
        self._writing_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self.headers: dict[str, str] = {}
        self.feed(head)
        if self._request is not None:
            self.headers = merged_headers(self._request.headers.raw_items())

    # -- WebSocketConnection ---------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    async def accept(self) -> None:
        if self._accepted or self._closed:
            return
        if self._request is None:
            raise WebSocketClosed(1006, "no handshake request")
        self._accepted = True
        response = self._p.accept(self._request)
        self._p.send_response(response)
        self._flush_protocol()
        if response.status_code != 101:  # not a valid WebSocket handshake: the response said why
            self._closed = True
            self._gone = WebSocketClosed(1006, f"handshake refused ({response.status_code})")
            raise self._gone

    async def receive(self) -> str | bytes:
        while True:
            if self._we_closed:
                raise WebSocketClosed(1006, "closed")
            if self._inbox:
                message = self._inbox.popleft()
                if self._reading_paused and len(self._inbox) <= _INBOX_LOW:
                    self._reading_paused = False
                    self._transport.resume_reading()
                return message
            if self._gone is not None:
                raise self._gone
            if self._closed:
                raise WebSocketClosed(1006, "closed")
            waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None

    async def send(self, data: str | bytes) -> None:
        if self._closed or self._p.state is not _OPEN:
            raise self._gone or WebSocketClosed(1006, "closed")
        # A server's data frame is a header and the payload, unmasked: framed here (what the protocol's
        # send_text/send_binary would queue, byte for byte) rather than through its Frame objects.
        if isinstance(data, str):
            payload, first = data.encode(), 0x81
        else:
            payload, first = bytes(data), 0x82
        n = len(payload)
        if n < 126:
            self._write(bytes((first, n)) + payload)
        elif n < 65536:
            self._write(_HEAD16.pack(first, 126, n) + payload)
        else:
            self._write(_HEAD64.pack(first, 127, n) + payload)
        if self._writing_paused:
            await self._wait_drain()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self._closed:
            return
        self._closed = self._we_closed = True
        if not self._accepted:  # refuse the upgrade, as an ASGI server does for a close before accept
            self._accepted = True
            self._p.send_response(self._p.reject(HTTPStatus.FORBIDDEN, "Forbidden\n"))
            self._flush_protocol()
            self._transport.close()
            return
        if self._p.state is State.OPEN:
            try:
                self._p.send_close(code, reason)
            except Exception:  # an invalid code or reason from a handler: close normally instead
                self._p.send_close(1000, "")
            self._flush_protocol()
            self._close_timer = self._loop.call_later(CLOSE_TIMEOUT_S, self._transport.close)
        else:
            self._transport.close()
        self._wake()

    # -- fed by the connection's asyncio protocol ------------------------------------------------

    def feed(self, data: bytes) -> None:
        p = self._p
        p.receive_data(data)
        for event in p.events_received():
            if type(event) is not Frame:
                if type(event) is Request:
                    self._request = event
                continue
            opcode = event.opcode
            if opcode is _TEXT or opcode is _BINARY:
                if event.fin:
                    self._deliver(bytes(event.data), opcode is _TEXT)
                else:
                    self._fragments = [bytes(event.data)]
                    self._fragment_text = opcode is _TEXT
            elif opcode is _CONT:
                self._fragments.append(bytes(event.data))
                if event.fin:
                    data_, self._fragments = b"".join(self._fragments), []
                    self._deliver(data_, self._fragment_text)
            elif opcode is _CLOSE:
                rcvd = p.close_rcvd
                self._peer_gone(rcvd.code if rcvd else 1005, rcvd.reason if rcvd else "")
        self._flush_protocol()
        if len(self._inbox) >= _INBOX_HIGH and not self._reading_paused:
            self._reading_paused = True
            self._transport.pause_reading()

    def eof_received(self) -> None:
        self._p.receive_eof()
        self._flush_protocol()
        self._peer_gone(1006, "")

    def connection_lost(self, exc: Exception | None) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
        self._peer_gone(1006, "")
        self._closed = True
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._wake()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # -- internals -------------------------------------------------------------------------------

    def _deliver(self, data: bytes, text: bool) -> None:
        if text:
            try:
                message: str | bytes = data.decode()
            except UnicodeDecodeError:
                self._p.fail(1007, "invalid UTF-8 in a text frame")
                self._peer_gone(1007, "invalid UTF-8")
                return
        else:
            message = data
        self._inbox.append(message)
        self._wake()

    def _peer_gone(self, code: int | None, reason: str) -> None:
        if self._gone is None:
            self._gone = WebSocketClosed(code, reason)
        if self._p.state is State.CLOSED or self._p.eof_sent:
            self._closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _flush_protocol(self) -> None:
        for chunk in self._p.data_to_send():
            if chunk:
                self._write(chunk)
            else:  # the protocol's end of stream: the closing handshake is complete (or failed)
                self._flush_now()
                self._closed = True
                self._transport.close()

    def _write(self, data: bytes) -> None:
        pending = self._pending
        if pending is None:  # first write of this turn of the loop: now; later ones batched
            if self._transport.is_closing():
                return
            self._transport.write(data)
            self._pending = []
            self._loop.call_soon(self._flush_now)
        else:
            pending.append(data)

    def _flush_now(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    async def _wait_drain(self) -> None:
        if self._drain is None or self._drain.done():
            self._drain = self._loop.create_future()
        await self._drain
        if self._gone is not None and self._transport.is_closing():
            raise self._gone

    def __repr__(self) -> str:
        state: Any = self._p.state.name.lower()
        return f"<MediaWebSocket {self.path} {state}>"
