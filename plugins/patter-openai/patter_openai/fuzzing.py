"""Fuzz targets for the OpenAI parsers of server input (see :mod:`patter_core.testing.fuzz`).

* ``openai-realtime`` -- every Realtime server event through the session's dispatcher, in sequence on
  one session (state carries over). Beyond "never raises": the engine events it emits are well typed,
  and every client event the session sends in reaction is a valid GA event (the fake's schema check);
* ``openai-chat`` -- Chat Completions stream chunks (one mutated chunk inside an otherwise valid SSE
  stream): only well-typed LLM chunks come out, or a :class:`ProviderError`;
* ``openai-session-updated`` -- the formats negotiated from a ``session.updated`` event;
* ``openai-whisper`` -- the transcription response body.

The session runs on a socket stand-in that records what the client sends (no network): the point is
the parser, the wire is covered by the fake server's tests.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from patter_core.audio.format import MULAW_8K, PCM16_24K
from patter_core.errors import ProviderError
from patter_core.interfaces.llm import LLMDone, TextDelta, ToolCallRequest
from patter_core.testing.fuzz import Feed, FuzzTarget, check_fields
from patter_core.testing.mutate import Message
from patter_openai.llm import _parse_stream
from patter_openai.realtime.connection import RealtimeConnection, negotiated_formats
from patter_openai.realtime.events import DEFAULT_SAY_TEMPLATE
from patter_openai.realtime.session import OpenAIRealtimeSession
from patter_openai.testing.ga_schema import problems as ga_problems
from patter_openai.testing.http_fake import ChatScript, chat_chunks
from patter_openai.testing.scripts import FakeToolCall

__all__ = ["fuzz_targets"]

_AUDIO = base64.b64encode(b"\xff" * 160).decode()
REALTIME_EVENTS: tuple[dict[str, Any], ...] = (
    {"type": "session.updated", "event_id": "e1", "session": {"type": "realtime", "audio": {}}},
    {
        "type": "input_audio_buffer.speech_started",
        "event_id": "e",
        "audio_start_ms": 1000,
        "item_id": "item_u1",
    },
    {
        "type": "input_audio_buffer.speech_stopped",
        "event_id": "e",
        "audio_end_ms": 2500,
        "item_id": "item_u1",
    },
    {
        "type": "conversation.item.added",
        "event_id": "e",
        "item": {
            "id": "item_u1",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "hi"}],
        },
    },
    {
        "type": "conversation.item.input_audio_transcription.delta",
        "event_id": "e",
        "item_id": "item_u1",
        "delta": "I ne",
    },
    {
        "type": "conversation.item.input_audio_transcription.completed",
        "event_id": "e",
        "item_id": "item_u1",
        "content_index": 0,
        "transcript": "I need help",
    },
    {
        "type": "conversation.item.input_audio_transcription.failed",
        "item_id": "item_u1",
        "error": {"message": "x"},
    },
    {
        "type": "response.created",
        "event_id": "e",
        "response": {"id": "resp_1", "status": "in_progress", "output": []},
    },
    {
        "type": "response.output_audio.delta",
        "event_id": "e",
        "response_id": "resp_1",
        "item_id": "item_a1",
        "output_index": 0,
        "content_index": 0,
        "delta": _AUDIO,
    },
    {
        "type": "response.output_audio_transcript.delta",
        "response_id": "resp_1",
        "item_id": "item_a1",
        "delta": "Sure, ",
    },
    {
        "type": "response.output_audio_transcript.done",
        "item_id": "item_a1",
        "transcript": "Sure, one moment.",
    },
    {
        "type": "response.function_call_arguments.done",
        "response_id": "resp_1",
        "item_id": "item_fc1",
        "call_id": "call_abc",
        "name": "transfer_call",
        "arguments": '{"destination":"front desk"}',
    },
    {
        "type": "response.done",
        "event_id": "e",
        "response": {
            "id": "resp_1",
            "status": "completed",
            "output": [
                {
                    "type": "function_call",
                    "id": "item_fc2",
                    "call_id": "call_def",
                    "name": "end_call",
                    "arguments": "{}",
                }
            ],
        },
    },
    {
        "type": "error",
        "event_id": "e",
        "error": {
            "type": "invalid_request_error",
            "code": "conversation_already_has_active_response",
            "message": "busy",
            "event_id": "patter_1",
        },
    },
    {"type": "conversation.item.truncated", "item_id": "item_a1", "content_index": 0, "audio_end_ms": 100},
    {"type": "rate_limits.updated", "rate_limits": []},
)


class _RecordingSocket:
    """What the session needs of a socket: ``send`` (recorded) and a transport to abort."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.transport = self

    async def send(self, message: str) -> None:
        self.sent.append(message)

    async def close(self) -> None:
        return None

    def abort(self) -> None:
        return None


def _realtime() -> FuzzTarget:
    async def make() -> Feed:
        socket = _RecordingSocket()
        session = OpenAIRealtimeSession(
            RealtimeConnection(ws=socket, session={}),  # type: ignore[arg-type]
            input_format=MULAW_8K,
            output_format=MULAW_8K,
            requested_formats=(MULAW_8K, MULAW_8K),
            reconnect=None,
            say_template=DEFAULT_SAY_TEMPLATE,
        )
        await session.say("Hello, thanks for calling.")  # a request in flight, as in a real call

        async def feed(message: Message) -> None:
            await session._dispatch.handle(message)
            while not session._queue.empty():
                check_fields(session._queue.get_nowait())
            for sent in socket.sent:
                found = ga_problems(json.loads(sent))
                if found:
                    raise AssertionError(f"the client sent an invalid GA event {sent}: {found}")
            socket.sent.clear()

        return feed

    return FuzzTarget("openai-realtime", tuple(json.dumps(e) for e in REALTIME_EVENTS), make)


def _chat() -> FuzzTarget:
    script = ChatScript(
        text="Sure, one moment.", tool_calls=[FakeToolCall("book", '{"day":"Tuesday"}', "call_1")]
    )
    chunks = chat_chunks(script)
    examples = (
        *(json.dumps(c) for c in chunks),
        json.dumps({"id": "x", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}),
        json.dumps({"error": {"message": "overloaded", "type": "server_error", "code": None}}),
    )

    async def body(event: bytes) -> AsyncIterator[bytes]:
        yield b"data: " + json.dumps(chunks[0]).encode() + b"\n\n"
        yield b"data: " + event + b"\n\n"
        yield b"data: " + json.dumps(chunks[-1]).encode() + b"\n\ndata: [DONE]\n\n"

    def make() -> Feed:
        async def feed(message: Message) -> None:
            event = message.encode("utf-8", "surrogatepass") if isinstance(message, str) else message
            event = event.replace(b"\r", b" ").replace(b"\n", b" ")  # one SSE data line
            response = httpx.Response(200, content=body(event))
            async for chunk in _parse_stream(response):
                if not isinstance(chunk, TextDelta | ToolCallRequest | LLMDone):
                    raise AssertionError(f"unexpected chunk {chunk!r}")
                check_fields(chunk)

        return feed

    return FuzzTarget("openai-chat", examples, make, allowed=(ProviderError,))


def _session_updated() -> FuzzTarget:
    example = {
        "type": "session.updated",
        "session": {
            "type": "realtime",
            "audio": {
                "input": {"format": {"type": "audio/pcmu"}},
                "output": {"format": {"type": "audio/pcm", "rate": 24000}},
            },
        },
    }

    def make() -> Feed:
        def feed(message: Message) -> None:
            try:
                event = json.loads(message)
            except (ValueError, RecursionError):
                return  # the setup reader drops non-JSON messages
            if not isinstance(event, dict):
                return
            session = event.get("session")
            negotiated_formats(session if isinstance(session, dict) else {}, MULAW_8K, PCM16_24K)

        return feed

    return FuzzTarget("openai-session-updated", (json.dumps(example),), make)


def _whisper() -> FuzzTarget:
    """The transcription response: text, or a ProviderError naming the unexpected body."""

    def make() -> Feed:
        from patter_openai.stt import parse_transcription

        def feed(message: Message) -> None:
            text = parse_transcription(
                message.encode("utf-8", "surrogatepass") if isinstance(message, str) else message
            )
            if not isinstance(text, str):
                raise AssertionError(f"transcription parsed to {text!r}")

        return feed

    return FuzzTarget(
        "openai-whisper", (json.dumps({"text": "I need help."}),), make, allowed=(ProviderError,)
    )


def fuzz_targets() -> list[FuzzTarget]:
    return [_realtime(), _chat(), _session_updated(), _whisper()]
