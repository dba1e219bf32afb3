"""One call's Deepgram live stream: the socket, its reader and keep-alive tasks, and reconnection.

* caller audio goes out as binary frames (never an empty one: that is Deepgram's legacy close signal);
* a ``KeepAlive`` text frame goes out whenever no audio was sent for ``keepalive_interval`` seconds;
* ``end_of_speech()`` sends ``Finalize``; ``aclose()`` sends ``CloseStream``, lets the last ``Results``
  and ``Metadata`` arrive (bounded by ``close_timeout``) and closes;
* an unexpected close or drop reconnects once, transparently: audio pushed meanwhile is buffered (up to
  ``reconnect_buffer_ms``) and sent first on the new socket. Another drop within
  ``reconnect_reset_s`` (or a failed reconnect) ends :meth:`events` with
  :class:`~patter_core.errors.ProviderConnectionError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from patter_core.audio.format import AudioFormat
from patter_core.errors import ProviderConnectionError
from patter_core.interfaces.stt import STTEvent, STTSpeechStarted, STTStream
from patter_deepgram._utterance import UtteranceAssembler

if TYPE_CHECKING:
    from patter_deepgram.stt import DeepgramSTT

__all__ = ["DeepgramStream"]

log = logging.getLogger("patter.deepgram")
PROVIDER = "deepgram"
_END = object()
KEEPALIVE = json.dumps({"type": "KeepAlive"})
FINALIZE = json.dumps({"type": "Finalize"})
CLOSE_STREAM = json.dumps({"type": "CloseStream"})


class DeepgramStream(STTStream):
    """The per-call object :meth:`DeepgramSTT.open_stream` returns."""

    def __init__(self, stt: DeepgramSTT, url: str, format: AudioFormat) -> None:
        self._stt = stt
        self._url = url
        self.format = format
        self._ws: ClientConnection | None = None
        self._events: asyncio.Queue[object] = asyncio.Queue()
        self._assembler = UtteranceAssembler()
        self._buffer: deque[bytes] = deque()
        self._buffered = 0
        self._buffer_limit = format.bytes_for_ms(stt.reconnect_buffer_ms)
        self._finalize_pending = False
        self._closing = False
        self._loop = asyncio.get_running_loop()
        self._last_sent = self._loop.time()
        self._connected_at = self._loop.time()
        self._reader: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self.reconnects = 0
        """How many times this stream reconnected after a drop."""
        self.request_ids: list[str] = []
        """Deepgram ``dg-request-id`` of each connection (for support tickets)."""

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._ws = await self._connect()
        self._reader = self._loop.create_task(self._run(), name="patter-deepgram-reader")
        self._keepalive = self._loop.create_task(self._keep_alive(), name="patter-deepgram-keepalive")

    async def _connect(self) -> ClientConnection:
        try:
            ws = await connect(
                self._url,
                additional_headers=self._stt.auth_headers,
                open_timeout=self._stt.connect_timeout,
                close_timeout=2.0,
                compression=None,
                max_size=8 * 1024 * 1024,
                user_agent_header="patter",
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            reason = exc.response.headers.get("dg-error") or bytes(exc.response.body or b"")[:300].decode(
                "utf-8", errors="replace"
            )
            request_id = exc.response.headers.get("dg-request-id")
            hint = ""
            if status in (401, 403):
                hint = "; check the API key: pass api_key= or set the DEEPGRAM_API_KEY environment variable"
            raise ProviderConnectionError(
                f"Deepgram refused the stream: HTTP {status} {reason.strip()}"
                + (f" (dg-request-id {request_id})" if request_id else "")
                + hint,
                provider=PROVIDER,
                code=str(status),
                fatal=400 <= status < 500,
            ) from exc
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise ProviderConnectionError(
                f"could not connect to Deepgram: {type(exc).__name__}: {exc}", provider=PROVIDER
            ) from exc
        request_id = ws.response.headers.get("dg-request-id") if ws.response is not None else None
        if request_id:
            self.request_ids.append(request_id)
        self._connected_at = self._loop.time()
        return ws

    async def aclose(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._keepalive is not None:
            self._keepalive.cancel()
        ws, reader = self._ws, self._reader
        if ws is not None and reader is not None and not reader.done():
            with contextlib.suppress(ConnectionClosed):
                await ws.send(CLOSE_STREAM)
            # Deepgram sends the remaining Results, then Metadata, then closes (1000).
            await asyncio.wait({reader}, timeout=self._stt.close_timeout)
        for task in (reader, self._keepalive):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        for event in self._assembler.utterance_end():  # the end of the stream ends an open utterance
            self._events.put_nowait(event)
        self._events.put_nowait(_END)

    # -- client -> server ---------------------------------------------------------------------

    async def push_audio(self, audio: bytes) -> None:
        if not audio or self._closing:
            return  # an empty binary frame would close the stream
        ws = self._ws
        if ws is not None:
            try:
                await ws.send(audio)
                self._last_sent = self._loop.time()
                return
            except ConnectionClosed:
                pass  # the reader notices and reconnects; keep the audio for the new socket
        self._hold(audio)

    def _hold(self, audio: bytes) -> None:
        self._buffer.append(audio)
        self._buffered += len(audio)
        dropped = 0
        while self._buffered > self._buffer_limit and len(self._buffer) > 1:
            old = self._buffer.popleft()
            self._buffered -= len(old)
            dropped += len(old)
        if dropped:
            log.debug(
                "reconnect buffer full: dropped %.0f ms of the oldest audio", self.format.duration_ms(dropped)
            )

    async def end_of_speech(self) -> None:
        """``Finalize``: Deepgram flushes what it heard and answers with a ``from_finalize`` result."""
        if self._closing:
            return
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(FINALIZE)
                return
        self._finalize_pending = True

    async def _keep_alive(self) -> None:
        interval = self._stt.keepalive_interval
        while True:
            delay = self._last_sent + interval - self._loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            ws = self._ws
            if ws is not None:
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(KEEPALIVE)
            self._last_sent = self._loop.time()

    # -- server -> client ---------------------------------------------------------------------

    async def events(self) -> AsyncIterator[STTEvent]:
        while True:
            item = await self._events.get()
            if item is _END or isinstance(item, BaseException):
                self._events.put_nowait(_END)
                if isinstance(item, BaseException):
                    raise item
                return
            yield item  # type: ignore[misc]

    async def _run(self) -> None:
        outcome: object = _END
        try:
            while True:
                ws = self._ws
                assert ws is not None
                try:
                    async for raw in ws:
                        self._handle(raw)
                    code, reason = ws.close_code or 1006, ws.close_reason or ""
                except ConnectionClosed as exc:
                    code, reason = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (1006, "no close frame")
                if self._closing:
                    return
                error = await self._reconnect(code, reason)
                if error is not None:
                    outcome = error
                    return
        finally:
            if not self._closing:  # aclose() ends the events itself, after the last results
                self._events.put_nowait(outcome)

    async def _reconnect(self, code: int, reason: str) -> ProviderConnectionError | None:
        """Open a new socket after a drop; the error to raise from :meth:`events` when that is not allowed."""
        lasted = self._loop.time() - self._connected_at
        if self.reconnects and lasted < self._stt.reconnect_reset_s:
            return ProviderConnectionError(
                f"Deepgram connection dropped again {lasted:.1f} s after reconnecting "
                f"(code {code}: {reason})",
                provider=PROVIDER,
                code=str(code),
            )
        log.warning("Deepgram connection dropped (code %s: %s); reconnecting", code, reason)
        self._ws = None  # push_audio buffers from here on
        self.reconnects += 1
        try:
            ws = await self._connect()
        except ProviderConnectionError as exc:
            return ProviderConnectionError(
                f"Deepgram connection dropped (code {code}: {reason}) and the reconnect failed: {exc}",
                provider=PROVIDER,
                code=exc.code,
                fatal=exc.fatal,
            )
        with contextlib.suppress(ConnectionClosed):  # a new drop is seen by the reader straight away
            while self._buffer:
                chunk = self._buffer.popleft()
                self._buffered -= len(chunk)
                await ws.send(chunk)
            if self._finalize_pending:
                self._finalize_pending = False
                await ws.send(FINALIZE)
        self._last_sent = self._loop.time()
        self._ws = ws
        return None

    def _handle(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            log.warning("dropped an unexpected binary frame (%d bytes) from Deepgram", len(raw))
            return
        try:
            message: Any = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: JSON nested absurdly deep
            log.warning("dropped a malformed frame from Deepgram: %.120r", raw)
            return
        if not isinstance(message, dict):
            log.warning("dropped a non-object frame from Deepgram: %.120r", raw)
            return
        kind = message.get("type")
        try:
            if kind == "Results":
                events: list[STTEvent] = list(self._assembler.results(message))
            elif kind == "UtteranceEnd":
                events = list(self._assembler.utterance_end())
            elif kind == "SpeechStarted":
                events = [STTSpeechStarted()]
            else:
                self._log_other(kind, message)
                return
        except (KeyError, TypeError, IndexError, ValueError, AttributeError) as exc:
            log.warning(
                "dropped a malformed %s message from Deepgram (%s: %s)", kind, type(exc).__name__, exc
            )
            return
        for event in events:
            self._events.put_nowait(event)

    @staticmethod
    def _log_other(kind: object, message: dict[str, Any]) -> None:
        if kind == "Error":
            log.warning(
                "Deepgram error %s: %s",
                message.get("code") or message.get("variant"),
                message.get("description") or message.get("message"),
            )
        elif kind == "Metadata":
            log.debug(
                "Deepgram stream %s finished (%.1f s of audio)",
                message.get("request_id"),
                float(message.get("duration") or 0.0),
            )
        else:
            log.debug("ignoring Deepgram message type %r", kind)
