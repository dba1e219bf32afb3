"""A lean WebSocket client (RFC 6455) for the load generator: hundreds of simulated phone lines in one
process on one core must cost far less than the server they measure.

It is an :class:`asyncio.Protocol` with no tasks and no per-message coroutines: text frames out (masked
with the all-zero key, which RFC 6455 allows, so masking costs nothing), frames in parsed from one
buffer, pings answered, close handshake honoured. No extensions, no fragmentation on send. Not a
general-purpose client: only what a carrier's media stream needs.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Mapping

__all__ = ["LeanWebSocket", "open_websocket"]

_ZERO_MASK = b"\x00\x00\x00\x00"


class LeanWebSocket(asyncio.Protocol):
    """Subclass and override :meth:`on_text` (called with the payload bytes and the arrival time)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = self.loop.create_future()
        self.closed: asyncio.Future[int | None] = self.loop.create_future()
        self._handshake = b""
        self._request = b""
        self._buf = bytearray()
        self._open = False
        self._close_sent = False
        self._fragments: list[bytes] = []
        self.close_code: int | None = None

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        if not self._open:
            self._handshake += data
            end = self._handshake.find(b"\r\n\r\n")
            if end < 0:
                return
            head, rest = self._handshake[:end], self._handshake[end + 4 :]
            status = head.split(b"\r\n", 1)[0]
            if b" 101 " not in status + b" ":
                if not self.opened.done():
                    self.opened.set_exception(ConnectionError(f"upgrade refused: {status.decode('latin-1')}"))
                self._abort()
                return
            self._open = True
            if not self.opened.done():
                self.opened.set_result(None)
            if not rest:
                return
            data = rest
        buf = self._buf
        buf += data
        now = time.monotonic()  # (uvloop's loop.time() has a 1 ms resolution)
        pos, size = 0, len(buf)
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            n, head = b1 & 0x7F, 2
            if n == 126:
                if size - pos < 4:
                    break
                n, head = (buf[pos + 2] << 8) | buf[pos + 3], 4
            elif n == 127:
                if size - pos < 10:
                    break
                n, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if b1 & 0x80:  # servers must not mask; tolerate it anyway
                head += 4
            if size - pos < head + n:
                break
            payload = bytes(buf[pos + head : pos + head + n])
            if b1 & 0x80:
                mask = buf[pos + head - 4 : pos + head]
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            pos += head + n
            opcode = b0 & 0x0F
            if opcode in (0x1, 0x2, 0x0):
                if not b0 & 0x80:
                    self._fragments.append(payload)
                    continue
                if self._fragments:
                    payload = b"".join([*self._fragments, payload])
                    self._fragments.clear()
                self.on_text(payload, now)
            elif opcode == 0x8:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                self._send_frame(0x8, payload[:2])
                self._abort_later()
                break
            elif opcode == 0x9:
                self._send_frame(0xA, payload)
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self._open = False
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("connection closed during the upgrade"))
        if not self.closed.done():
            self.closed.set_result(self.close_code)
        self.on_closed()

    # -- API -------------------------------------------------------------------------------------

    def on_text(self, payload: bytes, now: float) -> None:
        """A message arrived (``now`` = ``time.monotonic()`` of the read that brought it)."""

    def on_closed(self) -> None:
        """The connection is gone."""

    @property
    def is_open(self) -> bool:
        return self._open and not self._close_sent

    def send_text(self, text: str) -> None:
        if self._open and not self._close_sent and self.transport is not None:
            self._send_frame(0x1, text.encode())

    def close(self, code: int = 1000) -> None:
        if self._open and not self._close_sent:
            self._send_frame(0x8, code.to_bytes(2, "big"))
            self._close_sent = True
        self._abort_later(2.0)

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0xFE, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0xFF, n)
        self.transport.write(head + _ZERO_MASK + payload)
        if opcode == 0x8:
            self._close_sent = True

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _abort_later(self, delay: float = 0.5) -> None:
        self.loop.call_later(delay, self._abort)


async def open_websocket(
    protocol: LeanWebSocket, host: str, port: int, path: str, headers: Mapping[str, str] | None = None
) -> LeanWebSocket:
    """Connect ``protocol`` to ``ws://host:port/path`` and complete the upgrade."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    protocol._request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    await protocol.loop.create_connection(lambda: protocol, host, port)
    await protocol.opened
    return protocol
