"""Fuzz targets for the ElevenLabs parsers of server input (see :mod:`patter_core.testing.fuzz`).

* ``elevenlabs-convai`` -- ConvAI server events through a started conversation's handler, in sequence:
  never raises, emits only well-typed engine events, answers pings with well-formed pongs;
* ``elevenlabs-convai-start`` -- ``conversation_initiation_metadata`` variants before the conversation
  started: accepted, or refused with the :class:`ConfigurationError` that names the fix;
* ``elevenlabs-tts`` -- ``stream-input`` messages of one sentence: audio bytes, or a
  :class:`ProviderError` for an error message.

The sessions run on a socket stand-in (scripted ``recv``, recorded ``send``): the parser is the target
here, the wire is covered by the fake servers' tests.
"""

from __future__ import annotations

import base64
import json
from collections import deque
from typing import Any

from patter_core.audio.format import MULAW_8K
from patter_core.errors import ConfigurationError, ProviderError
from patter_core.testing.fuzz import Feed, FuzzTarget, check_fields
from patter_core.testing.mutate import Message
from patter_elevenlabs._convai_session import ConvAISession
from patter_elevenlabs._tts_ws import WebSocketTTSSession
from patter_elevenlabs.tts import ElevenLabsTTS

__all__ = ["fuzz_targets"]

_AUDIO = base64.b64encode(b"\xff" * 160).decode()
METADATA = {
    "type": "conversation_initiation_metadata",
    "conversation_initiation_metadata_event": {
        "conversation_id": "conv_123",
        "agent_output_audio_format": "ulaw_8000",
        "user_input_audio_format": "ulaw_8000",
    },
}
CONVAI_EVENTS: tuple[dict[str, Any], ...] = (
    {
        "type": "audio",
        "audio_event": {"audio_base_64": _AUDIO, "event_id": 7, "alignment": {"chars": ["H", "i"]}},
    },
    {"type": "interruption", "interruption_event": {"event_id": 7}},
    {"type": "agent_response", "agent_response_event": {"agent_response": "Sure, let me check."}},
    {
        "type": "agent_response_correction",
        "agent_response_correction_event": {
            "original_agent_response": "Sure, let",
            "corrected_agent_response": "Sure",
        },
    },
    {"type": "agent_chat_response_part", "text_response_part": {"type": "delta", "text": "Sur"}},
    {"type": "user_transcript", "user_transcription_event": {"user_transcript": "I need help"}},
    {"type": "internal_tentative_agent_response", "tentative_agent_response_internal_event": {"x": "y"}},
    {"type": "vad_score", "vad_score_event": {"vad_score": 0.95}},
    {"type": "ping", "ping_event": {"event_id": 12345, "ping_ms": 50}},
    {
        "type": "client_tool_call",
        "client_tool_call": {
            "tool_name": "transfer_call",
            "tool_call_id": "toolu_abc",
            "parameters": {"destination": "desk"},
        },
    },
    METADATA,
)


class _Socket:
    """A socket stand-in: ``recv`` returns scripted messages, ``send`` is recorded."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.incoming: deque[str | bytes] = deque()

    async def send(self, message: str) -> None:
        self.sent.append(message)

    async def recv(self) -> str | bytes:
        return self.incoming.popleft()

    async def close(self, *args: Any) -> None:
        return None


def _convai(*, started: bool) -> FuzzTarget:
    async def make() -> Feed:
        socket = _Socket()
        session = ConvAISession(socket, agent_id="agent_fuzz")  # type: ignore[arg-type]
        if started:
            await session._handle(json.dumps(METADATA))

        async def feed(message: Message) -> None:
            await session._handle(message)
            while not session._queue.empty():
                check_fields(session._queue.get_nowait())
            for sent in socket.sent:
                pong = json.loads(sent)
                if pong.get("type") != "pong" or "event_id" not in pong:
                    raise AssertionError(f"unexpected client message {sent}")
            socket.sent.clear()

        return feed

    if started:
        return FuzzTarget("elevenlabs-convai", tuple(json.dumps(e) for e in CONVAI_EVENTS), make)
    return FuzzTarget("elevenlabs-convai-start", (json.dumps(METADATA),), make, allowed=(ConfigurationError,))


def _tts() -> FuzzTarget:
    examples = (
        json.dumps({"audio": _AUDIO, "isFinal": None, "normalizedAlignment": {"chars": ["H"]}}),
        json.dumps({"isFinal": True}),
        json.dumps({"message": "Input timeout exceeded", "error": "input_timeout_exceeded", "code": 1008}),
        json.dumps({"audio": None, "isFinal": None, "alignment": None}),
    )

    def make() -> Feed:
        tts = ElevenLabsTTS(
            voice_id="voice_fuzz", api_key="fuzz-key", base_url="http://127.0.0.1:9"
        )  # never connects here
        session = WebSocketTTSSession(tts, MULAW_8K)

        async def feed(message: Message) -> None:
            socket = _Socket()
            socket.incoming.extend([message, json.dumps({"isFinal": True})])
            async for chunk in session._speak(socket, "Hello there."):  # type: ignore[arg-type]
                if not isinstance(chunk, bytes) or not chunk:
                    raise AssertionError(f"yielded {chunk!r}")

        return feed

    return FuzzTarget("elevenlabs-tts", examples, make, allowed=(ProviderError,))


def fuzz_targets() -> list[FuzzTarget]:
    return [_convai(started=True), _convai(started=False), _tts()]
