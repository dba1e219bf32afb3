"""One call's ``stream-input`` WebSocket synthesis: a connection per sentence, the next one pre-opened.

Per sentence (PROTOCOLS.md 6.3): the pre-opened connection already carried ``{"text": " ",
"voice_settings": ...}``; the sentence sends ``{"text": "<sentence> ", "flush": true}`` then
``{"text": ""}`` (end of input), yields every ``audio`` until ``{"isFinal": true}``, and the server
closes the socket. Meanwhile the next connection is opened and idles with ``{"text": " "}`` keep-alives.
Closing the iterator early (barge-in) closes that sentence's socket in the background; the next
sentence is unaffected.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from patter_core.audio.format import AudioFormat
from patter_core.errors import ProviderConnectionError, ProviderError
from patter_core.interfaces.tts import TTSSession
from patter_elevenlabs._ws import PROVIDER, close_description, open_websocket

if TYPE_CHECKING:
    from patter_elevenlabs.tts import ElevenLabsTTS

__all__ = ["WebSocketTTSSession"]

log = logging.getLogger("patter.elevenlabs.tts")
_KEEPALIVE = json.dumps({"text": " "})
_END_OF_INPUT = json.dumps({"text": ""})
_RETRYABLE_ERRORS = frozenset({"input_timeout_exceeded"})


class _Connection:
    """An opened, initialised ``stream-input`` socket and its idle keep-alive task."""

    def __init__(self, ws: ClientConnection, keepalive: asyncio.Task[None]) -> None:
        self.ws = ws
        self.keepalive = keepalive

    @property
    def usable(self) -> bool:
        return self.ws.state is State.OPEN and not self.keepalive.done()


class WebSocketTTSSession(TTSSession):
    """The per-call object :meth:`ElevenLabsTTS.open_session` returns for ``transport="websocket"``."""

    def __init__(self, tts: ElevenLabsTTS, format: AudioFormat) -> None:
        self.format = format
        self._tts = tts
        self._url = tts.stream_input_url(format)
        self._spare: asyncio.Task[_Connection] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._closed = False
        self.connections_opened = 0

    # -- connections --------------------------------------------------------------------------

    def prewarm(self) -> None:
        """Start opening the next sentence's connection (idempotent)."""
        if self._closed or self._spare is not None:
            return
        task = asyncio.get_running_loop().create_task(self._open(), name="patter-elevenlabs-tts-connect")
        task.add_done_callback(_retrieve_exception)
        self._spare = task

    async def _open(self) -> _Connection:
        ws = await open_websocket(
            self._url, headers=self._tts.auth_headers, timeout=self._tts.connect_timeout
        )
        self.connections_opened += 1
        try:
            await ws.send(json.dumps(self._tts.initial_message()))
        except ConnectionClosed as exc:
            code, reason = close_description(exc)
            raise ProviderConnectionError(
                f"stream-input closed during setup (code {code}: {reason})", provider=PROVIDER
            ) from exc
        except BaseException:  # cancelled mid-setup: never leave the socket open
            ws.transport.abort()
            raise
        keepalive = asyncio.get_running_loop().create_task(
            self._keepalive(ws), name="patter-elevenlabs-tts-keepalive"
        )
        return _Connection(ws, keepalive)

    async def _keepalive(self, ws: ClientConnection) -> None:
        """Keep an idle connection open: ``{"text": " "}`` before ``inactivity_timeout`` expires."""
        try:
            while True:
                await asyncio.sleep(self._tts.keepalive_interval)
                await ws.send(_KEEPALIVE)
        except ConnectionClosed:
            log.debug("pre-opened stream-input connection closed while idle; a new one opens when needed")

    async def _take(self) -> _Connection:
        """The pre-opened connection (or a fresh one if it failed or dropped); the next one starts opening."""
        last_error: ProviderConnectionError | None = None
        for _ in range(2):
            if self._spare is None:
                self.prewarm()
            spare, self._spare = self._spare, None
            if spare is None:  # closed while a sentence was starting (the call is ending)
                raise ProviderError("the ElevenLabs TTS session is closed", provider=PROVIDER)
            self.prewarm()
            try:
                conn = await spare
            except ProviderConnectionError as exc:
                if exc.fatal:
                    self._drop_spare()
                    raise
                last_error = exc
                log.warning("could not open an ElevenLabs stream-input connection (%s); retrying once", exc)
                continue
            if conn.usable:
                conn.keepalive.cancel()
                return conn
            self._discard(conn)
        raise last_error or ProviderConnectionError(
            "the pre-opened stream-input connection kept dropping", provider=PROVIDER
        )

    def _drop_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.cancel()
            self._track(asyncio.get_running_loop().create_task(_close_spare(spare)))

    def _discard(self, conn: _Connection) -> None:
        """Close a connection in the background so barge-in never waits for the close handshake."""
        conn.keepalive.cancel()
        if conn.ws.state is not State.CLOSED:
            self._track(asyncio.get_running_loop().create_task(conn.ws.close()))

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_retrieve_exception)

    # -- synthesis ----------------------------------------------------------------------------

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        text = text.strip()
        if not text:
            return
        if self._closed:
            raise ProviderError("the ElevenLabs TTS session is closed", provider=PROVIDER)
        yielded = False
        for attempt in (1, 2):
            conn = await self._take()
            try:
                async with contextlib.aclosing(self._speak(conn.ws, text)) as chunks:
                    async for chunk in chunks:
                        yielded = True
                        yield chunk
                return
            except ProviderConnectionError as exc:
                if yielded or exc.fatal or attempt == 2:
                    raise
                log.warning(
                    "ElevenLabs stream-input failed before any audio (%s); retrying on a new connection", exc
                )
            finally:
                self._discard(conn)

    async def _speak(self, ws: ClientConnection, text: str) -> AsyncGenerator[bytes, None]:
        got_audio = False
        try:
            await ws.send(json.dumps({"text": text + " ", "flush": True}))
            await ws.send(_END_OF_INPUT)
            while True:
                raw = await ws.recv()
                message = _parse(raw)
                if message is None:
                    continue
                _raise_for_error(message)
                audio = message.get("audio")
                if isinstance(audio, str) and audio:
                    try:
                        chunk = base64.b64decode(audio, validate=True)
                    except ValueError:  # binascii.Error, or non-ASCII text
                        log.warning("dropped an ElevenLabs audio message with invalid base64")
                        continue
                    if chunk:
                        got_audio = True
                        yield chunk
                if message.get("isFinal") is True:
                    return
        except ConnectionClosed as exc:
            code, reason = close_description(exc)
            if code == 1000 and got_audio:
                log.debug("stream-input closed normally without isFinal; the sentence is complete")
                return
            raise ProviderConnectionError(
                f"stream-input connection closed mid-sentence (code {code}: {reason})",
                provider=PROVIDER,
                code=str(code),
            ) from exc

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._drop_spare()
        if self._background:
            await asyncio.wait(set(self._background), timeout=self._tts.connect_timeout)
        for task in list(self._background):
            task.cancel()


def _parse(raw: str | bytes) -> dict[str, Any] | None:
    if isinstance(raw, bytes):
        log.warning("dropped a binary frame (%d bytes) from ElevenLabs stream-input", len(raw))
        return None
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: JSON nested absurdly deep
        log.warning("dropped a malformed frame from ElevenLabs stream-input: %.120r", raw)
        return None
    if not isinstance(message, dict):
        log.warning("dropped a non-object frame from ElevenLabs stream-input: %.120r", raw)
        return None
    return message


def _raise_for_error(message: dict[str, Any]) -> None:
    """ElevenLabs reports errors as ``{"message": ..., "error": ...}`` before closing the socket."""
    if message.get("audio") or "isFinal" in message or not (message.get("error") or message.get("message")):
        return
    code = str(message.get("error") or message.get("code") or "error")
    text = f"{message.get('message') or code}"
    if code in _RETRYABLE_ERRORS:
        raise ProviderConnectionError(text, provider=PROVIDER, code=code)
    raise ProviderError(text, provider=PROVIDER, code=code, fatal=True)


async def _close_spare(spare: asyncio.Task[_Connection]) -> None:
    with contextlib.suppress(BaseException):
        conn = await spare
        conn.keepalive.cancel()
        await conn.ws.close()


def _retrieve_exception(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()
