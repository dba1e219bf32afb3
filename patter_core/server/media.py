"""The generic media channel every JSON-over-WebSocket carrier shares.

A carrier supplies a :class:`~patter_core.interfaces.MediaDialect` (how its frames are spelled); this
module does the rest: waits for the stream's ``start`` with a timeout, turns frames into media events,
drops malformed frames with a (rate-limited) log line instead of failing the call, treats a close
without ``stop`` as a normal hang-up, and never raises from a send on a socket the carrier already
closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from patter_core.audio.format import AudioFormat
from patter_core.interfaces.carrier import (
    AudioReceived,
    CallInfo,
    MalformedFrame,
    MediaChannel,
    MediaDialect,
    MediaEvent,
    StreamStart,
    StreamStopped,
)
from patter_core.server.http import WebSocketClosed, WebSocketConnection

__all__ = ["JsonMediaChannel", "accept_stream", "json_frame"]

log = logging.getLogger("patter.media")

_LOG_FIRST = 5
_LOG_EVERY = 100
MAX_FRAME_BYTES = 64 * 1024
"""Media frames larger than this are dropped unparsed (a carrier's 20 ms frame is a few hundred bytes;
its ``start`` a few kilobytes): a peer cannot make the server decode megabytes of JSON and base64."""


def json_frame(message: str | bytes) -> dict[str, Any]:
    """A media frame's JSON object, or :class:`MalformedFrame` saying why it is not one: the one
    decoding step of every JSON carrier dialect (oversized, bad UTF-8, bad JSON, absurd nesting, not
    an object)."""
    if len(message) > MAX_FRAME_BYTES:
        raise MalformedFrame(f"frame of {len(message)} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")
    try:
        data = json.loads(message)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedFrame(f"not JSON: {exc}") from None
    except RecursionError:
        raise MalformedFrame("not JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise MalformedFrame("frame is not a JSON object")
    return data


class _DropLog:
    """Log the first few malformed frames of a stream, then one in a hundred."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.count = 0

    def __call__(self, error: Exception) -> None:
        self.count += 1
        if self.count <= _LOG_FIRST or self.count % _LOG_EVERY == 0:
            log.warning("%s: dropped malformed media frame #%d: %s", self.label, self.count, error)


def _parse(dialect: MediaDialect, message: str | bytes) -> MediaEvent | StreamStart | None:
    """``dialect.parse`` with the channel's guarantees: oversized frames are refused before parsing,
    and a dialect that raises something other than :class:`MalformedFrame` (a bug in a carrier
    plugin, or ``RecursionError`` from absurdly nested JSON) drops that frame instead of the call."""
    if len(message) > MAX_FRAME_BYTES:
        raise MalformedFrame(f"frame of {len(message)} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")
    try:
        return dialect.parse(message)
    except MalformedFrame:
        raise
    except Exception as exc:
        raise MalformedFrame(f"{type(dialect).__name__}.parse failed: {type(exc).__name__}") from exc


async def accept_stream(
    ws: WebSocketConnection, dialect: MediaDialect, *, timeout: float = 10.0, label: str = "media"
) -> StreamStart | None:
    """Read frames until the stream's ``start``; ``None`` if it does not come in time or the socket closes."""
    dropped = _DropLog(label)

    async def first_start() -> StreamStart | None:
        while True:
            message = await ws.receive()
            try:
                parsed = _parse(dialect, message)
            except MalformedFrame as exc:
                dropped(exc)
                continue
            if isinstance(parsed, StreamStart):
                return parsed
            if isinstance(parsed, StreamStopped):
                return None

    try:
        return await asyncio.wait_for(first_start(), timeout)
    except (TimeoutError, WebSocketClosed):
        return None


class JsonMediaChannel(MediaChannel):
    def __init__(
        self,
        ws: WebSocketConnection,
        dialect: MediaDialect,
        *,
        call: CallInfo,
        format: AudioFormat,
        supports_marks: bool = True,
    ) -> None:
        self._ws = ws
        self._dialect = dialect
        self.call = call
        self.format = format
        self.supports_marks = supports_marks
        self._dropped = _DropLog(f"call {call.call_id}")
        self._closed = False
        self.frames_in = 0

    @property
    def dropped_frames(self) -> int:
        return self._dropped.count

    async def events(self) -> AsyncIterator[MediaEvent]:
        receive, dialect = self._ws.receive, self._dialect
        width = self.format.sample_width * self.format.channels
        while True:
            try:
                message = await receive()
            except WebSocketClosed:
                return  # a close without stop is a normal hang-up
            try:
                event = _parse(dialect, message)
            except MalformedFrame as exc:
                self._dropped(exc)
                continue
            if event is None:
                continue
            if isinstance(event, StreamStart):
                self._dropped(MalformedFrame("a second start on the same stream"))
                continue
            if type(event) is AudioReceived and len(event.payload) % width:
                # each frame holds whole samples; a stray byte would misalign everything after it
                self._dropped(
                    MalformedFrame(f"audio payload of {len(event.payload)} bytes is not whole samples")
                )
                continue
            self.frames_in += 1
            yield event
            if isinstance(event, StreamStopped):
                return

    async def _send(self, message: str) -> None:
        if self._closed:
            return
        try:
            await self._ws.send(message)
        except WebSocketClosed:
            self._closed = True

    async def send_audio(self, frame: bytes) -> None:
        await self._send(self._dialect.audio_message(frame))

    async def send_mark(self, name: str) -> None:
        await self._send(self._dialect.mark_message(name))

    async def clear(self) -> None:
        await self._send(self._dialect.clear_message())

    async def close(self, reason: str = "") -> None:
        if self._closed and self._ws.closed:
            return
        self._closed = True
        await self._ws.close(1000, reason[:120])
