"""A local fake of Deepgram's live ``/v1/listen`` WebSocket (PROTOCOLS.md section 5) for tests and demos.

::

    async with FakeDeepgramServer(script=[Utterance("hello there", at_ms=200)]) as fake:
        stt = DeepgramSTT(api_key=fake.api_key, base_url=fake.base_url)
        stream = await stt.open_stream(STTConfig(format=MULAW_8K))
        ...
        fake.connections[0].query["encoding"]   # ["mulaw"]

Like the real service it checks ``Authorization: Token <key>`` (HTTP 401 with ``dg-error`` otherwise) and
that ``sample_rate`` accompanies ``encoding`` (HTTP 400); receives binary audio; answers ``KeepAlive``
(nothing), ``Finalize`` (a ``from_finalize`` result), ``CloseStream`` (remaining results, ``Metadata``,
close 1000); closes 1011 ``NET-0001`` after ``idle_timeout`` seconds with neither audio nor KeepAlive; and
treats a zero-length binary frame as the legacy close signal (``Metadata``, close 1000).

The script is shared by all connections and timed by caller audio: each item fires once, when the total
audio received (over every connection, in the declared format) reaches its ``at_ms``; so a script keeps
going across a reconnect. Knobs: ``drop_after_ms`` aborts the TCP connection once a connection has
received that much audio, for the first ``drop_connections`` connections; ``refuse_from`` answers HTTP 503
to every handshake from that (0-based) connection index on; ``idle_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

__all__ = ["DeepgramConnection", "FakeDeepgramServer", "Raw", "ScriptItem", "Utterance"]

_WIDTH = {"linear16": 2, "mulaw": 1, "alaw": 1}


class ScriptItem:
    """Base class of script items (so a mixed list is a ``list[ScriptItem]``); each fires at ``at_ms``."""

    at_ms: float


@attrs.frozen
class Utterance(ScriptItem):
    """What the caller "said", delivered like Deepgram does once ``at_ms`` of audio has arrived.

    Order: ``SpeechStarted`` (if the client asked for ``vad_events``), interim results growing word by word,
    the text as ``final_pieces`` ``is_final`` results (the last one ``speech_final`` when ``speech_final``),
    an empty ``is_final``+``speech_final`` twin when ``empty_twin``, then ``UtteranceEnd`` (if the client
    asked for ``utterance_end_ms`` and ``utterance_end``). With ``wait_for_finalize`` only the interims are
    sent; the final text comes with the next ``Finalize`` (``from_finalize: true``) or ``CloseStream``.
    """

    text: str
    at_ms: float = 0
    interim: bool = True
    final_pieces: int = 1
    speech_final: bool = True
    empty_twin: bool = False
    utterance_end: bool = True
    wait_for_finalize: bool = False


@attrs.frozen
class Raw(ScriptItem):
    """Any frame, sent once ``at_ms`` of audio has arrived: a dict as JSON, a string as-is."""

    message: Mapping[str, Any] | str
    at_ms: float = 0


@attrs.define(eq=False)
class DeepgramConnection:
    """One client connection, as the fake saw it."""

    query: dict[str, list[str]]
    headers: dict[str, str]
    request_id: str
    audio: bytearray = attrs.Factory(bytearray)
    binary_frames: int = 0
    zero_length_frames: int = 0
    messages: list[dict[str, Any]] = attrs.Factory(list)
    close_code: int | None = None
    close_reason: str = ""
    closed: asyncio.Event = attrs.Factory(asyncio.Event)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def count(self, kind: str) -> int:
        """How many text messages of type ``kind`` (``KeepAlive``, ``Finalize``, ``CloseStream``) arrived."""
        return sum(1 for m in self.messages if m.get("type") == kind)

    @property
    def bytes_per_ms(self) -> float:
        rate = int(self.param("sample_rate") or 16000)
        return rate * _WIDTH.get(self.param("encoding") or "linear16", 2) / 1000


class FakeDeepgramServer:
    """Fake Deepgram live-transcription server on ``127.0.0.1`` (see the module documentation)."""

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        script: Sequence[ScriptItem] = (),
        idle_timeout: float = 10.0,
        drop_after_ms: float | None = None,
        drop_connections: int = 1,
        refuse_from: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.script: list[ScriptItem] = list(script)
        self.idle_timeout = idle_timeout
        self.drop_after_ms, self.drop_connections = drop_after_ms, drop_connections
        self.refuse_from = refuse_from
        self.connections: list[DeepgramConnection] = []
        self.handshakes = 0
        self.audio_ms = 0.0
        """Caller audio received so far over all connections (drives the script)."""
        self._next = 0
        self._awaiting_finalize: Utterance | None = None
        self._request_ids: dict[ServerConnection, str] = {}
        self._server: Server | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FakeDeepgramServer:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            process_response=self._process_response,
            compression=None,
            ping_interval=None,
        )
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    # -- handshake ----------------------------------------------------------------------------

    @staticmethod
    def _refuse(connection: ServerConnection, status: int, error: str) -> Response:
        response = connection.respond(status, json.dumps({"err_code": status, "err_msg": error}))
        response.headers["dg-error"] = error
        response.headers["dg-request-id"] = str(uuid.uuid4())
        return response

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        index = self.handshakes
        self.handshakes += 1
        url = urllib.parse.urlsplit(request.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path != "/v1/listen":
            return self._refuse(connection, 404, "Not found")
        if request.headers.get("Authorization") != f"Token {self.api_key}":
            return self._refuse(connection, 401, "Invalid credentials.")
        if "encoding" in query and "sample_rate" not in query:
            return self._refuse(connection, 400, "sample_rate is required when encoding is set")
        if self.refuse_from is not None and index >= self.refuse_from:
            return self._refuse(connection, 503, "Service unavailable (injected)")
        return None

    async def _process_response(
        self, connection: ServerConnection, request: Request, response: Response
    ) -> None:
        if response.status_code == 101:
            request_id = str(uuid.uuid4())
            response.headers["dg-request-id"] = request_id
            self._request_ids[connection] = request_id

    # -- the stream ---------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        url = urllib.parse.urlsplit(ws.request.path)
        conn = DeepgramConnection(
            urllib.parse.parse_qs(url.query),
            {k.lower(): v for k, v in ws.request.headers.raw_items()},
            self._request_ids.pop(ws, str(uuid.uuid4())),
        )
        index = len(self.connections)
        self.connections.append(conn)
        try:
            await self._serve(ws, conn, index)
        except ConnectionClosed:
            pass
        finally:
            conn.close_code, conn.close_reason = ws.close_code, ws.close_reason or ""
            conn.closed.set()

    async def _serve(self, ws: ServerConnection, conn: DeepgramConnection, index: int) -> None:
        loop = asyncio.get_running_loop()
        last_activity = loop.time()
        while True:
            remaining = last_activity + self.idle_timeout - loop.time()
            try:
                frame = await asyncio.wait_for(ws.recv(), max(remaining, 0))
            except TimeoutError:
                await ws.close(
                    1011,
                    "NET-0001: Deepgram did not receive audio data or a text message within the "
                    "timeout window",
                )
                return
            if isinstance(frame, bytes):
                if not frame:
                    conn.zero_length_frames += 1
                    await self._finish(ws, conn)
                    return
                conn.audio += frame
                conn.binary_frames += 1
                self.audio_ms += len(frame) / conn.bytes_per_ms
                last_activity = loop.time()
                if (
                    self.drop_after_ms is not None
                    and index < self.drop_connections
                    and len(conn.audio) / conn.bytes_per_ms >= self.drop_after_ms
                ):
                    ws.transport.abort()
                    return
                await self._fire_due(ws, conn)
                continue
            try:
                message = json.loads(frame)
            except ValueError:
                message = {"type": "<malformed>", "raw": frame}
            conn.messages.append(message)
            kind = message.get("type")
            if kind == "KeepAlive":
                last_activity = loop.time()
            elif kind == "Finalize":
                await self._finalize(ws, conn, from_finalize=True)
            elif kind == "CloseStream":
                await self._finish(ws, conn)
                return

    async def _finish(self, ws: ServerConnection, conn: DeepgramConnection) -> None:
        await self._finalize(ws, conn, from_finalize=False, always=False)
        seconds = round(len(conn.audio) / conn.bytes_per_ms / 1000, 3)
        await ws.send(
            json.dumps(
                {
                    "type": "Metadata",
                    "transaction_key": "deprecated",
                    "request_id": conn.request_id,
                    "sha256": "0" * 64,
                    "created": "2025-01-01T00:00:00.000Z",
                    "duration": seconds,
                    "channels": 1,
                }
            )
        )
        await ws.close(1000)

    async def _finalize(
        self, ws: ServerConnection, conn: DeepgramConnection, *, from_finalize: bool, always: bool = True
    ) -> None:
        pending, self._awaiting_finalize = self._awaiting_finalize, None
        if pending is None and not always:
            return
        text = pending.text if pending is not None else ""
        await ws.send(json.dumps(self.results(conn, text, is_final=True, from_finalize=from_finalize)))

    async def _fire_due(self, ws: ServerConnection, conn: DeepgramConnection) -> None:
        while self._next < len(self.script) and self.script[self._next].at_ms <= self.audio_ms:
            item = self.script[self._next]
            self._next += 1
            if isinstance(item, Raw):
                await ws.send(item.message if isinstance(item.message, str) else json.dumps(item.message))
            elif isinstance(item, Utterance):
                await self._speak(ws, conn, item)

    async def _speak(self, ws: ServerConnection, conn: DeepgramConnection, utterance: Utterance) -> None:
        words = utterance.text.split()
        if conn.param("vad_events") == "true":
            await ws.send(
                json.dumps({"type": "SpeechStarted", "channel": [0], "timestamp": self.audio_ms / 1000})
            )
        if utterance.interim and conn.param("interim_results") == "true":
            for count in range(1, len(words) + 1):
                await ws.send(json.dumps(self.results(conn, " ".join(words[:count]), is_final=False)))
        if utterance.wait_for_finalize:
            self._awaiting_finalize = utterance
            return
        pieces = _split(words, utterance.final_pieces)
        for number, piece in enumerate(pieces, 1):
            last = number == len(pieces)
            await ws.send(
                json.dumps(
                    self.results(conn, piece, is_final=True, speech_final=last and utterance.speech_final)
                )
            )
        if utterance.empty_twin:
            await ws.send(json.dumps(self.results(conn, "", is_final=True, speech_final=True)))
        if utterance.utterance_end and conn.param("utterance_end_ms") is not None:
            await ws.send(
                json.dumps({"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": self.audio_ms / 1000})
            )

    def results(
        self,
        conn: DeepgramConnection,
        text: str,
        *,
        is_final: bool,
        speech_final: bool = False,
        from_finalize: bool = False,
    ) -> dict[str, Any]:
        """A ``Results`` message exactly as Deepgram shapes it (PROTOCOLS.md 5.3)."""
        words = text.split()
        start = max(self.audio_ms / 1000 - 0.3 * len(words), 0.0)
        return {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": round(0.3 * len(words), 3),
            "start": round(start, 3),
            "is_final": is_final,
            "speech_final": speech_final,
            "from_finalize": from_finalize,
            "channel": {
                "alternatives": [
                    {
                        "transcript": text,
                        "confidence": 0.98 if words else 0.0,
                        "words": [
                            {
                                "word": w.strip(".,?!").lower(),
                                "start": round(start + 0.3 * i, 3),
                                "end": round(start + 0.3 * (i + 1), 3),
                                "confidence": 0.98,
                                "punctuated_word": w,
                            }
                            for i, w in enumerate(words)
                        ],
                    }
                ]
            },
            "metadata": {
                "request_id": conn.request_id,
                "model_uuid": "00000000-fake",
                "model_info": {"name": "general-nova-3", "version": "fake", "arch": "nova-3"},
            },
        }


def _split(words: list[str], pieces: int) -> list[str]:
    pieces = max(1, min(pieces, len(words))) if words else 1
    size = -(-len(words) // pieces) if words else 0
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)] if words else [""]
