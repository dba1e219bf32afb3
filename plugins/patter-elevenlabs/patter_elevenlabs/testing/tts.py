"""A local fake of ElevenLabs text-to-speech (PROTOCOLS.md section 6.3): WebSocket and HTTP streaming.

::

    async with FakeElevenLabsTTSServer() as fake:
        tts = ElevenLabsTTS(voice_id="voice1", api_key=fake.api_key, base_url=fake.base_url)
        ...
        fake.texts   # every text synthesised, in order

``wss://.../v1/text-to-speech/{voice_id}/stream-input`` behaves like the real endpoint: the key comes
in the ``xi-api-key`` header (or ``xi-api-key`` in the first message); the first message must be
``{"text": " ", ...}``; text accumulates until a ``flush`` (or ``try_trigger_generation``), which
generates the buffered text; ``{"text": ""}`` generates what is left, sends ``{"isFinal": true}`` and
closes 1000. A connection that receives no message for ``inactivity_timeout`` seconds (the query
parameter, or the ``inactivity_timeout`` knob) gets an ``input_timeout_exceeded`` error and close 1008;
``eleven_v3*`` models are refused the same way. Errors are ``{"message", "error", "code"}`` then a close.

``POST /v1/text-to-speech/{voice_id}/stream?output_format=`` checks ``xi-api-key`` (401 otherwise) and
answers a chunked body of raw audio (odd-sized chunks when ``odd_chunks``).

Audio is a tone of ``ms_per_char`` per character (at least ``min_ms``) in the requested
``output_format``, sent in ``chunk_ms`` pieces at ``speed`` x real time (0 = no pacing); pass
``audio=lambda text, fmt: ...`` to return your own bytes. Failure knobs (each applies once and resets):
``drop_next_after_chunks`` aborts the next generating connection or HTTP response after that many
chunks; ``error_next`` sends that error message to the next text message and closes 1008;
``http_status_next`` answers the next HTTP request with that status; ``inject_next`` (a list of raw
frames, strings or dicts) is sent before the next WebSocket generation's audio.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from patter_core.audio.format import AudioFormat
from patter_core.errors import ConfigurationError
from patter_elevenlabs._formats import format_from_name
from patter_elevenlabs.testing._audio import tone
from patter_elevenlabs.testing._server import FrontServer, HttpRequest, HttpResponder

__all__ = ["FakeElevenLabsTTSServer", "TTSConnection", "TTSRequest"]

_WS_PATH = re.compile(r"^/v1/text-to-speech/([^/]+)/stream-input$")
_HTTP_PATH = re.compile(r"^/v1/text-to-speech/([^/]+)/stream$")


@attrs.define(eq=False)
class TTSConnection:
    """One ``stream-input`` connection as the fake saw it."""

    voice_id: str
    query: dict[str, str]
    headers: dict[str, str]
    messages: list[dict[str, Any]] = attrs.Factory(list)
    texts: list[str] = attrs.Factory(list)
    """Texts this connection generated audio for."""
    chunks_sent: int = 0
    sent_final: bool = False
    close_code: int | None = None
    closed: asyncio.Event = attrs.Factory(asyncio.Event)

    @property
    def keepalives(self) -> int:
        """``{"text": " "}`` messages after the first one."""
        return sum(1 for m in self.messages[1:] if m.get("text") == " " and not m.get("flush"))


@attrs.define(eq=False)
class TTSRequest:
    """One HTTP streaming request."""

    voice_id: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class FakeElevenLabsTTSServer:
    """Fake ElevenLabs TTS on ``127.0.0.1`` (see the module documentation)."""

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        ms_per_char: float = 20.0,
        min_ms: float = 100.0,
        chunk_ms: float = 50.0,
        speed: float = 4.0,
        inactivity_timeout: float | None = None,
        odd_chunks: bool = True,
        audio: Callable[[str, AudioFormat], bytes] | None = None,
    ) -> None:
        self.api_key = api_key
        self.ms_per_char, self.min_ms, self.chunk_ms, self.speed = ms_per_char, min_ms, chunk_ms, speed
        self.inactivity_timeout = inactivity_timeout
        self.odd_chunks = odd_chunks
        self.audio = audio
        self.drop_next_after_chunks: int | None = None
        self.error_next: dict[str, Any] | None = None
        self.http_status_next: int | None = None
        self.inject_next: list[str | dict[str, Any]] = []
        self.connections: list[TTSConnection] = []
        self.http_requests: list[TTSRequest] = []
        self.texts: list[str] = []
        self._front = FrontServer(self._http, self._ws)

    @property
    def base_url(self) -> str:
        return self._front.base_url

    async def __aenter__(self) -> FakeElevenLabsTTSServer:
        await self._front.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._front.stop()

    def render(self, text: str, fmt: AudioFormat) -> bytes:
        """The audio the fake produces for ``text`` in ``fmt``."""
        if self.audio is not None:
            return self.audio(text, fmt)
        return tone(fmt, max(self.min_ms, self.ms_per_char * len(text)))

    async def _chunks(self, text: str, fmt: AudioFormat, *, odd: bool) -> AsyncIterator[bytes]:
        audio = self.render(text, fmt)
        size = max(fmt.bytes_for_ms(self.chunk_ms), 1) + (1 if odd and fmt.sample_width == 2 else 0)
        drop_after, self.drop_next_after_chunks = self.drop_next_after_chunks, None
        for index, start in enumerate(range(0, len(audio), size)):
            if drop_after is not None and index >= drop_after:
                raise ConnectionAbortedError("fake drop")
            yield audio[start : start + size]
            if self.speed > 0:
                await asyncio.sleep(self.chunk_ms / 1000 / self.speed)

    # -- WebSocket stream-input ---------------------------------------------------------------

    async def _ws(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        url = urllib.parse.urlsplit(ws.request.path)
        match = _WS_PATH.match(url.path)
        conn = TTSConnection(
            match.group(1) if match else "",
            dict(urllib.parse.parse_qsl(url.query)),
            {k.lower(): v for k, v in ws.request.headers.raw_items()},
        )
        self.connections.append(conn)
        try:
            await self._serve_ws(ws, conn, match is not None)
        except ConnectionClosed:
            pass
        finally:
            conn.close_code = ws.close_code
            conn.closed.set()

    async def _error(self, ws: ServerConnection, error: str, message: str) -> None:
        await ws.send(json.dumps({"message": message, "error": error, "code": 1008}))
        await ws.close(1008, error)

    async def _serve_ws(self, ws: ServerConnection, conn: TTSConnection, path_ok: bool) -> None:
        if not path_ok:
            await self._error(ws, "not_found", "unknown endpoint")
            return
        if conn.query.get("model_id", "").startswith("eleven_v3"):
            await self._error(ws, "invalid_request", "eleven_v3 models are not supported on this endpoint")
            return
        try:
            fmt = format_from_name(conn.query.get("output_format", "mp3_44100_128"))
        except ConfigurationError:
            await self._error(ws, "invalid_output_format", "this fake serves raw formats only")
            return
        timeout = self.inactivity_timeout or float(conn.query.get("inactivity_timeout", "20"))
        buffer = ""
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout)
            except TimeoutError:
                await self._error(
                    ws,
                    "input_timeout_exceeded",
                    f"Have not received new text for {timeout:g} seconds. Closing the connection.",
                )
                return
            message = json.loads(raw)
            conn.messages.append(message)
            text = message.get("text")
            if len(conn.messages) == 1:
                key_ok = (
                    conn.headers.get("xi-api-key") == self.api_key
                    or message.get("xi-api-key") == self.api_key
                )
                if not key_ok:
                    await self._error(ws, "invalid_api_key", "Invalid API key")
                    return
                if text != " ":
                    await self._error(ws, "invalid_request", "the first message must be a single space")
                    return
                continue
            if not isinstance(text, str):
                continue
            if self.error_next is not None and text.strip():
                error, self.error_next = self.error_next, None
                await ws.send(json.dumps(error))
                await ws.close(1008, str(error.get("error", "error")))
                return
            if text == "":
                await self._generate(ws, conn, buffer, fmt)
                await ws.send(json.dumps({"isFinal": True}))
                conn.sent_final = True
                await ws.close(1000)
                return
            buffer += text
            if message.get("flush") or message.get("try_trigger_generation"):
                await self._generate(ws, conn, buffer, fmt)
                buffer = ""

    async def _generate(self, ws: ServerConnection, conn: TTSConnection, text: str, fmt: AudioFormat) -> None:
        text = text.strip()
        if not text:
            return
        conn.texts.append(text)
        self.texts.append(text)
        injected, self.inject_next = self.inject_next, []
        for frame in injected:
            await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
        try:
            async for chunk in self._chunks(text, fmt, odd=False):
                await ws.send(
                    json.dumps(
                        {
                            "audio": base64.b64encode(chunk).decode(),
                            "isFinal": None,
                            "normalizedAlignment": None,
                            "alignment": None,
                        }
                    )
                )
                conn.chunks_sent += 1
        except ConnectionAbortedError:
            ws.transport.abort()
            raise ConnectionClosed(None, None) from None

    # -- HTTP streaming -----------------------------------------------------------------------

    async def _http(self, request: HttpRequest, respond: HttpResponder) -> None:
        match = _HTTP_PATH.match(request.path)
        if request.method != "POST" or match is None:
            await respond.send(404, {"detail": "Not Found"})
            return
        try:
            body = request.json()
        except ValueError:
            body = None
        self.http_requests.append(
            TTSRequest(match.group(1), dict(request.query), dict(request.headers), body)
        )
        if request.headers.get("xi-api-key") != self.api_key:
            await respond.send(401, {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}})
            return
        if self.http_status_next is not None:
            status, self.http_status_next = self.http_status_next, None
            await respond.send(status, {"detail": {"status": "fake_error", "message": f"injected {status}"}})
            return
        try:
            fmt = format_from_name(request.query.get("output_format", "mp3_44100_128"))
        except ConfigurationError:
            await respond.send(
                422, {"detail": {"status": "invalid_output_format", "message": "raw formats only"}}
            )
            return
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
            await respond.send(422, {"detail": {"status": "invalid_request", "message": "text is required"}})
            return
        self.texts.append(body["text"].strip())
        try:
            await respond.stream(
                200, self._chunks(body["text"].strip(), fmt, odd=self.odd_chunks), "audio/basic"
            )
        except ConnectionAbortedError:
            raise ConnectionResetError("fake drop") from None
