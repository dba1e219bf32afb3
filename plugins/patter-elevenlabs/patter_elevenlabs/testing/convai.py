"""A local fake of ElevenLabs Conversational AI (PROTOCOLS.md section 4) for tests and demos.

::

    async with FakeConvAIServer(script=[Speak(ms=200, text="Hi!"), WaitForUserAudio(100), Close()]) as fake:
        engine = ElevenLabsConvAI(agent_id=fake.agent_id, api_key=fake.api_key, base_url=fake.base_url)
        session = await engine.connect(EngineConfig(instructions="Be brief."))
        ...
        fake.last.initiation   # what the client sent first

What it does, as the real service does:

* ``GET /v1/convai/conversation/get-signed-url?agent_id=`` checks ``xi-api-key`` (401 otherwise) and
  returns a single-use ``conversation_signature`` URL; ``signed_url_root`` makes that URL name another
  host (e.g. ``wss://api.elevenlabs.io``) to check that clients rebase it onto their ``base_url``.
* the WebSocket ``/v1/convai/conversation?agent_id=`` accepts a valid signature, an ``xi-api-key``
  header, or nothing when ``public=True`` (HTTP 403 otherwise, 404 for another agent id);
* the first client message must be ``conversation_initiation_client_data`` (else close 1008); overridden
  fields outside ``allowed_overrides`` close the session with 1008 like an agent that forbids them;
* then ``conversation_initiation_metadata`` with the configured formats, then the script
  (:mod:`patter_elevenlabs.testing.convai_script`), while every client message is recorded.

Knobs: ``input_format`` / ``output_format`` (ElevenLabs names), ``speed`` (audio pacing: 1.0 = real
time, 0 = no pacing), ``pong_timeout``, ``metadata_delay``, ``send_metadata``, ``allowed_overrides``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import json
import secrets
import urllib.parse
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from patter_elevenlabs._formats import format_from_name
from patter_elevenlabs.testing import convai_script as s
from patter_elevenlabs.testing._audio import tone
from patter_elevenlabs.testing._server import FrontServer, HttpRequest, HttpResponder

__all__ = ["ConvAIConnection", "FakeConvAIServer"]

_CONVERSATION = "/v1/convai/conversation"
_SIGNED = "/v1/convai/conversation/get-signed-url"


class _StopScript(Exception):
    pass


@attrs.define(eq=False)
class ConvAIConnection:
    """Everything one client connection did, as the fake saw it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    initiation: dict[str, Any] | None = None
    messages: list[dict[str, Any]] = attrs.Factory(list)
    """Every client message after the initiation data, parsed (audio chunks included)."""
    audio: bytearray = attrs.Factory(bytearray)
    pings: list[int] = attrs.Factory(list)
    pongs: list[Any] = attrs.Factory(list)
    tool_results: list[dict[str, Any]] = attrs.Factory(list)
    missed_pong: bool = False
    close_code: int | None = None
    script_done: bool = False
    closed: asyncio.Event = attrs.Factory(asyncio.Event)
    _ids: Iterator[int] = attrs.Factory(lambda: itertools.count(1))
    turn: int = 0
    _speech: asyncio.Task[None] | None = None
    _audio_arrived: asyncio.Event = attrs.Factory(asyncio.Event)
    _waiters: dict[tuple[str, Any], asyncio.Future[Any]] = attrs.Factory(dict)


class FakeConvAIServer:
    """Fake ElevenLabs Agents Platform server on ``127.0.0.1`` (see the module documentation)."""

    def __init__(
        self,
        *,
        agent_id: str = "agent_test",
        api_key: str = "test-key",
        public: bool = False,
        input_format: str = "ulaw_8000",
        output_format: str = "ulaw_8000",
        script: Sequence[s.Step] = (),
        speed: float = 1.0,
        pong_timeout: float = 5.0,
        allowed_overrides: set[str] | None = None,
        metadata_delay: float = 0.0,
        send_metadata: bool = True,
        signed_url_root: str | None = None,
    ) -> None:
        self.agent_id, self.api_key, self.public = agent_id, api_key, public
        self.input_format, self.output_format = input_format, output_format
        self.script: list[s.Step] = list(script)
        self.speed, self.pong_timeout = speed, pong_timeout
        self.allowed_overrides = allowed_overrides
        self.metadata_delay, self.send_metadata = metadata_delay, send_metadata
        self.signed_url_root = signed_url_root
        self.connections: list[ConvAIConnection] = []
        self.signed_url_requests: list[dict[str, str]] = []
        self._signatures: set[str] = set()
        self._front = FrontServer(self._http, self._ws, self._process_request)

    @property
    def base_url(self) -> str:
        return self._front.base_url

    @property
    def last(self) -> ConvAIConnection:
        return self.connections[-1]

    async def __aenter__(self) -> FakeConvAIServer:
        await self._front.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._front.stop()

    # -- HTTP: signed URLs --------------------------------------------------------------------

    async def _http(self, request: HttpRequest, respond: HttpResponder) -> None:
        if request.method != "GET" or request.path != _SIGNED:
            await respond.send(404, {"detail": "Not Found"})
            return
        self.signed_url_requests.append(dict(request.headers))
        if request.headers.get("xi-api-key") != self.api_key:
            await respond.send(401, {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}})
            return
        if request.query.get("agent_id") != self.agent_id:
            await respond.send(404, {"detail": {"status": "agent_not_found", "message": "Agent not found"}})
            return
        signature = secrets.token_urlsafe(16)
        self._signatures.add(signature)
        root = self.signed_url_root or f"ws://127.0.0.1:{self._front.port}"
        query = urllib.parse.urlencode({"agent_id": self.agent_id, "conversation_signature": signature})
        await respond.send(200, {"signed_url": f"{root}{_CONVERSATION}?{query}"})

    # -- WebSocket ----------------------------------------------------------------------------

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urllib.parse.urlsplit(request.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path != _CONVERSATION or query.get("agent_id") != self.agent_id:
            return connection.respond(404, "agent not found\n")
        signature = query.get("conversation_signature")
        if signature is not None:
            if signature in self._signatures:
                self._signatures.discard(signature)  # single use
                return None
            return connection.respond(403, "invalid or used conversation_signature\n")
        if request.headers.get("xi-api-key") == self.api_key or self.public:
            return None
        return connection.respond(403, "this agent requires authentication\n")

    async def _ws(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        url = urllib.parse.urlsplit(ws.request.path)
        conn = ConvAIConnection(
            url.path,
            dict(urllib.parse.parse_qsl(url.query)),
            {k.lower(): v for k, v in ws.request.headers.raw_items()},
        )
        self.connections.append(conn)
        receiver: asyncio.Task[None] | None = None
        try:
            if not await self._initiate(ws, conn):
                return
            receiver = asyncio.get_running_loop().create_task(self._receive(ws, conn))
            with contextlib.suppress(_StopScript):
                for step in self.script:
                    await self._run(ws, conn, step)
            conn.script_done = True
            await receiver
        except ConnectionClosed:
            pass
        finally:
            for task in (receiver, conn._speech):
                if task is not None:
                    task.cancel()
            conn.close_code = ws.close_code
            conn.closed.set()

    async def _initiate(self, ws: ServerConnection, conn: ConvAIConnection) -> bool:
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        except (TimeoutError, ValueError):
            first = None
        if not isinstance(first, dict) or first.get("type") != "conversation_initiation_client_data":
            await ws.close(1008, "first message must be conversation_initiation_client_data")
            return False
        conn.initiation = first
        forbidden = self._forbidden_override(first.get("conversation_config_override") or {})
        if forbidden:
            await ws.close(1008, f"Override for field '{forbidden}' is not allowed by config.")
            return False
        if self.metadata_delay:
            await asyncio.sleep(self.metadata_delay)
        if self.send_metadata:
            await ws.send(
                json.dumps(
                    {
                        "type": "conversation_initiation_metadata",
                        "conversation_initiation_metadata_event": {
                            "conversation_id": f"conv_{secrets.token_hex(6)}",
                            "agent_output_audio_format": self.output_format,
                            "user_input_audio_format": self.input_format,
                        },
                    }
                )
            )
        return True

    def _forbidden_override(self, override: dict[str, Any], prefix: str = "") -> str | None:
        if self.allowed_overrides is None:
            return None
        for key, value in override.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict) and path != "agent.prompt":
                found = self._forbidden_override(value, path + ".")
                if found:
                    return found
            elif path not in self.allowed_overrides:
                return path
        return None

    async def _receive(self, ws: ServerConnection, conn: ConvAIConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(message, dict):
                    continue
                conn.messages.append(message)
                if "user_audio_chunk" in message:
                    with contextlib.suppress(binascii.Error, TypeError):
                        conn.audio += base64.b64decode(message["user_audio_chunk"], validate=True)
                        conn._audio_arrived.set()
                elif message.get("type") == "pong":
                    conn.pongs.append(message.get("event_id"))
                    self._resolve(conn, ("pong", message.get("event_id")), message)
                elif message.get("type") == "client_tool_result":
                    conn.tool_results.append(message)
                    self._resolve(conn, ("tool", message.get("tool_call_id")), message)

    @staticmethod
    def _resolve(conn: ConvAIConnection, key: tuple[str, Any], value: Any) -> None:
        waiter = conn._waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(value)

    async def _wait(self, conn: ConvAIConnection, key: tuple[str, Any], timeout: float) -> Any:
        waiter = asyncio.get_running_loop().create_future()
        conn._waiters[key] = waiter
        try:
            return await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return None
        finally:
            conn._waiters.pop(key, None)

    # -- script steps -------------------------------------------------------------------------

    async def _run(self, ws: ServerConnection, conn: ConvAIConnection, step: s.Step) -> None:
        if isinstance(step, s.Speak):
            conn.turn = next(conn._ids)
            if step.wait:
                await self._speak(ws, conn, step, conn.turn)
            else:
                conn._speech = asyncio.get_running_loop().create_task(self._speak(ws, conn, step, conn.turn))
        elif isinstance(step, s.Audio):
            await self._send_audio(
                ws,
                tone(format_from_name(self.output_format), step.ms),
                step.event_id if step.event_id is not None else conn.turn,
            )
        elif isinstance(step, s.Interrupt):
            if conn._speech is not None:
                conn._speech.cancel()
                conn._speech = None
            await self._send(ws, "interruption", {"event_id": conn.turn})
        elif isinstance(step, s.AgentResponse):
            await self._send(ws, "agent_response", {"agent_response": step.text})
        elif isinstance(step, s.Correction):
            await self._send(
                ws,
                "agent_response_correction",
                {"original_agent_response": step.original, "corrected_agent_response": step.corrected},
            )
        elif isinstance(step, s.UserTranscript):
            await self._send(
                ws, "user_transcript", {"user_transcript": step.text}, key="user_transcription_event"
            )
        elif isinstance(step, s.Ping):
            await self._ping(ws, conn, step)
        elif isinstance(step, s.ToolCall):
            call_id = step.call_id or f"toolu_{secrets.token_hex(4)}"
            await ws.send(
                json.dumps(
                    {
                        "type": "client_tool_call",
                        "client_tool_call": {
                            "tool_name": step.name,
                            "tool_call_id": call_id,
                            "parameters": dict(step.parameters),
                        },
                    }
                )
            )
            await self._wait(conn, ("tool", call_id), step.timeout)
        elif isinstance(step, s.WaitForUserAudio):
            await self._wait_for_audio(conn, step)
        elif isinstance(step, s.Sleep):
            await asyncio.sleep(step.seconds)
        elif isinstance(step, s.Send):
            await ws.send(step.message if isinstance(step.message, str) else json.dumps(step.message))
        elif isinstance(step, s.Close):
            await ws.close(step.code, step.reason)
            raise _StopScript
        elif isinstance(step, s.Drop):
            ws.transport.abort()
            raise _StopScript

    async def _send(
        self, ws: ServerConnection, kind: str, event: dict[str, Any], key: str | None = None
    ) -> None:
        await ws.send(json.dumps({"type": kind, key or f"{kind}_event": event}))

    async def _send_audio(self, ws: ServerConnection, audio: bytes, event_id: int) -> None:
        await self._send(
            ws, "audio", {"audio_base_64": base64.b64encode(audio).decode(), "event_id": event_id}
        )

    async def _speak(self, ws: ServerConnection, conn: ConvAIConnection, step: s.Speak, turn: int) -> None:
        fmt = format_from_name(self.output_format)
        if step.text:
            await self._send(ws, "agent_response", {"agent_response": step.text})
        audio = tone(fmt, step.ms)
        size = max(fmt.bytes_for_ms(step.chunk_ms), fmt.sample_width)
        for start in range(0, len(audio), size):
            await self._send_audio(ws, audio[start : start + size], turn)
            if self.speed > 0:
                await asyncio.sleep(step.chunk_ms / 1000 / self.speed)

    async def _ping(self, ws: ServerConnection, conn: ConvAIConnection, step: s.Ping) -> None:
        event_id = next(conn._ids)
        conn.pings.append(event_id)
        await self._send(ws, "ping", {"event_id": event_id, "ping_ms": step.ping_ms})
        if await self._wait(conn, ("pong", event_id), self.pong_timeout) is None:
            conn.missed_pong = True
            await ws.close(1008, "pong not received")
            raise _StopScript

    async def _wait_for_audio(self, conn: ConvAIConnection, step: s.WaitForUserAudio) -> None:
        needed = format_from_name(self.input_format).bytes_for_ms(step.ms)
        deadline = asyncio.get_running_loop().time() + step.timeout
        while len(conn.audio) < needed:
            conn._audio_arrived.clear()
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise _StopScript
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn._audio_arrived.wait(), remaining)
