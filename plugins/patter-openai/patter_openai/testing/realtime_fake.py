"""``FakeRealtimeServer``: a local OpenAI Realtime WebSocket server following PROTOCOLS §3 (GA).

::

    async with FakeRealtimeServer(replies=[FakeReply(text="Hi there!")]) as fake:
        engine = OpenAIRealtime(api_key="sk-test", base_url=fake.base_url)
        session = await engine.connect(EngineConfig(instructions="Be brief.", input_format=MULAW_8K,
                                                    output_format=MULAW_8K))
        ...
        assert fake.invalid_events == []          # every client event was valid GA

What it does: ``session.created`` on connect; ``session.update`` merged into the session and echoed in
``session.updated``; ``response.create`` streams the text its instructions quote in double quotes (how
``say()`` asks), else the next scripted :class:`FakeReply`, else ``default_reply``, as audio deltas **at real-time pace** in the session's output
format, with transcript deltas, then ``response.done``; ``response.cancel``, ``conversation.item.create``
(function outputs must name a call it made), ``conversation.item.truncate`` (refused beyond the audio
streamed for the item, like the service), caller speech (driven by the test, or detected from the
audio's energy), ``conversation_already_has_active_response`` and ``response_cancel_not_active``.
A handshake carrying ``OpenAI-Beta`` is answered with ``beta_api_shape_disabled`` and close 4000.

Knobs (constructor, mostly also attributes that may be changed while running):

* ``honour_pcmu=False`` -- silently replaces ``audio/pcmu``/``audio/pcma`` by ``audio/pcm`` 24 kHz;
* ``drop_after=N`` -- abort the TCP connection after N server events (an int applies to every
  connection; a sequence gives one value per connection in order, ``None`` = never);
* ``stall`` -- ``"before_created"``, ``"before_updated"`` or ``"after_updated"``: stop answering (and
  reading, so pings go unanswered) at that point (str for every connection, or a per-connection sequence);
* ``refuse_connections=True`` -- answer new handshakes with HTTP 503;
* ``pace`` -- 1.0 real time, 2.0 twice as fast, 0 as fast as possible; ``chunk_ms`` per audio delta;
* ``speech_detection=True`` -- caller speech is detected from appended audio above
  ``speech_threshold_dbfs``; transcripts come from ``caller_transcripts``;
* ``api_key`` -- when set, other bearer tokens get HTTP 401.

Records: ``client_events`` (every event, in order), ``invalid_events`` ((event, problems) pairs),
``server_events``, ``errors_sent``, ``truncations``, ``handshakes`` (path, query and headers of each
connection attempt), ``beta_rejections``, ``connections`` (per-connection state and received audio).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from patter_openai.testing.realtime_conn import FakeRealtimeConnection
from patter_openai.testing.scripts import FakeReply, FakeToolCall, quoted_text

__all__ = ["FakeRealtimeConnection", "FakeRealtimeServer", "FakeReply", "FakeToolCall"]

ReplyFactory = Callable[[FakeRealtimeConnection, "str | None"], FakeReply]


def _per_connection(value: Any, index: int) -> Any:
    if value is None or isinstance(value, int | str):
        return value
    return value[index] if index < len(value) else None


class FakeRealtimeServer:
    """See the module docstring. Start with ``async with`` (or :meth:`start` / :meth:`stop`)."""

    def __init__(
        self,
        *,
        replies: Sequence[FakeReply] = (),
        default_reply: str = "Hello! How can I help you today?",
        reply_factory: ReplyFactory | None = None,
        api_key: str | None = None,
        honour_pcmu: bool = True,
        drop_after: int | Sequence[int | None] | None = None,
        stall: str | Sequence[str | None] | None = None,
        pace: float = 1.0,
        chunk_ms: int = 100,
        speech_detection: bool = False,
        speech_threshold_dbfs: float = -35.0,
        caller_transcripts: Sequence[str] = (),
        keep_input_audio: bool = True,
        record_audio_events: bool = True,
        host: str = "127.0.0.1",
        path: str = "/v1/realtime",
    ) -> None:
        self.replies: list[FakeReply] = list(replies)
        self.default_reply = default_reply
        self.reply_factory = reply_factory
        self.api_key = api_key
        self.honour_pcmu = honour_pcmu
        self.drop_after = drop_after
        self.stall = stall
        self.pace = pace
        self.chunk_ms = chunk_ms
        self.speech_detection = speech_detection
        self.speech_threshold_dbfs = speech_threshold_dbfs
        self.caller_transcripts: list[str] = list(caller_transcripts)
        self.keep_input_audio = keep_input_audio
        self.record_audio_events = record_audio_events
        self.refuse_connections = False
        self.host = host
        self.path = path
        self.connections: list[FakeRealtimeConnection] = []
        self.client_events: list[dict[str, Any]] = []
        self.invalid_events: list[tuple[Any, list[str]]] = []
        self.server_events: list[tuple[int, dict[str, Any]]] = []
        self.errors_sent: list[dict[str, Any]] = []
        self.truncations: list[tuple[str, int]] = []
        self.handshakes: list[dict[str, Any]] = []
        self.beta_rejections = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self._server: Server | None = None
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> FakeRealtimeServer:
        self._server = await serve(
            self._handler,
            self.host,
            0,
            process_request=self._process_request,
            ping_interval=None,
            compression=None,
            max_size=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            for conn in self.connections:
                conn.ws.transport.abort()
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def __aenter__(self) -> FakeRealtimeServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The API root to give ``OpenAIRealtime(base_url=...)``."""
        return f"http://{self.host}:{self.port}{self.path.removesuffix('/realtime')}"

    # -- configuration lookups ------------------------------------------------------------------

    def drop_after_for(self, index: int) -> int | None:
        value = _per_connection(self.drop_after, index)
        return value if isinstance(value, int) else None

    def stall_for(self, index: int) -> str | None:
        value = _per_connection(self.stall, index)
        return value if isinstance(value, str) else None

    def next_reply(self, conn: FakeRealtimeConnection, instructions: str | None) -> FakeReply:
        if self.reply_factory is not None:
            return self.reply_factory(conn, instructions)
        quoted = quoted_text(instructions)
        if quoted:
            return FakeReply(text=quoted)
        if self.replies:
            return self.replies.pop(0)
        return FakeReply(text=self.default_reply)

    def record(self, conn: FakeRealtimeConnection, event: Any) -> None:
        if (
            not self.record_audio_events
            and isinstance(event, dict)
            and event.get("type") == "input_audio_buffer.append"
        ):
            return
        conn.events.append(event)
        self.client_events.append(event)

    # -- handshake and connections ----------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        query = parse_qs(url.query)
        self.handshakes.append(
            {"path": url.path, "query": query, "headers": dict(request.headers.raw_items())}
        )
        if url.path != self.path:
            return connection.respond(HTTPStatus.NOT_FOUND, f"no route for {url.path}\n")
        if self.refuse_connections:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "refusing connections\n")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or (self.api_key is not None and auth != f"Bearer {self.api_key}"):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid or missing API key\n")
        if not query.get("model"):
            return connection.respond(HTTPStatus.BAD_REQUEST, "missing model query parameter\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        if ws.request.headers.get("OpenAI-Beta"):
            self.beta_rejections += 1
            error = {
                "type": "invalid_request_error",
                "code": "beta_api_shape_disabled",
                "message": "The Realtime Beta API is no longer supported. Please use /v1/realtime for "
                "the GA API.",
                "param": None,
                "event_id": None,
            }
            self.errors_sent.append(error)
            await ws.send(_json({"type": "error", "event_id": "event_beta", "error": error}))
            await ws.close(4000, "beta_api_shape_disabled")
            return
        model = parse_qs(urlsplit(ws.request.path).query)["model"][0]
        conn = FakeRealtimeConnection(self, ws, len(self.connections), model)
        self.connections.append(conn)
        await conn.serve()

    # -- driving the fake from a test ----------------------------------------------------------

    @property
    def connection(self) -> FakeRealtimeConnection:
        """The most recent connection."""
        if not self.connections:
            raise RuntimeError("no client has connected to the fake Realtime server yet")
        return self.connections[-1]

    def script(self, *replies: FakeReply) -> None:
        """Queue replies for the next ``response.create`` (or server-VAD turn)."""
        self.replies.extend(replies)

    async def send(self, event: dict[str, Any]) -> None:
        """Send a raw server event on the latest connection (``event_id`` added)."""
        await self.connection.send(event)

    async def send_raw(self, message: str | bytes) -> None:
        """Send a frame as is (malformed-event tests)."""
        await self.connection.ws.send(message)

    async def send_error(self, code: str, message: str = "simulated error", **kwargs: Any) -> None:
        await self.connection.error(code, message, **kwargs)

    async def speech_started(self) -> str:
        """``input_audio_buffer.speech_started`` now (cancels the active response, like server VAD)."""
        return await self.connection.speech_started()

    async def speech_stopped(self, transcript: str = "", *, respond: bool | None = None) -> None:
        """End the caller's turn: stopped, committed, item added, transcription, then maybe a response."""
        await self.connection.speech_stopped(transcript, respond=respond)

    async def caller_turn(self, transcript: str, *, respond: bool | None = None) -> None:
        await self.speech_started()
        await self.speech_stopped(transcript, respond=respond)

    async def drop(self) -> None:
        """Cut the latest connection now (no close frame)."""
        self.connection.drop()

    async def wait_for(
        self, event_type: str, *, count: int = 1, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Client events of ``event_type`` once at least ``count`` were received (TimeoutError otherwise)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.client_events if isinstance(e, dict) and e.get("type") == event_type]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)}/{count} {event_type} event(s) after {timeout} s")
            await asyncio.sleep(0.005)

    async def wait_for_connections(self, count: int, *, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.connections) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.connections)}/{count} connections after {timeout} s")
            await asyncio.sleep(0.005)

    def events_of(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.client_events if isinstance(e, dict) and e.get("type") == event_type]


def _json(event: dict[str, Any]) -> str:
    return json.dumps(event)
