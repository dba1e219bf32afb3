"""Client events of the GA Realtime protocol, built as plain dicts (PROTOCOLS §3.3-§3.4).

Pure functions, no I/O: the session sends what these return, and the tests check every one of them
against the GA shapes the fake server enforces. Only GA spellings appear here (``session.type``,
``audio.input.format``, ``output_modalities`` ...); the beta shape is refused by the service.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, Literal

import attrs

from patter_core.audio.format import AudioFormat
from patter_core.interfaces.engine import EngineConfig
from patter_core.interfaces.llm import ToolSpec
from patter_openai.realtime.formats import wire_format

__all__ = [
    "DEFAULT_SAY_TEMPLATE",
    "RealtimeSettings",
    "append_audio",
    "append_audio_json",
    "cancel_response",
    "create_history_item",
    "create_response",
    "function_call_output",
    "function_tools",
    "say_instructions",
    "session_update",
    "truncate_item",
]

#: How :meth:`say` asks the model to speak a fixed text. The Realtime API has no "speak this text"
#: event; an out-of-turn ``response.create`` whose instructions quote the text, ask for it verbatim and
#: forbid anything else is what OpenAI's own examples do for scripted greetings. ``{text}`` is replaced.
DEFAULT_SAY_TEMPLATE = (
    "Say exactly the following text to the caller, word for word, in the language it is written in, "
    'and say nothing else before or after it: "{text}"'
)

TurnDetection = Literal["server_vad", "semantic_vad"]
Eagerness = Literal["auto", "low", "medium", "high"]
NoiseReduction = Literal["near_field", "far_field"]


@attrs.frozen
class RealtimeSettings:
    """The engine's options that end up in ``session.update`` (validated by :class:`OpenAIRealtime`)."""

    model: str = "gpt-realtime"
    voice: str = "marin"
    turn_detection: TurnDetection = "server_vad"
    vad_threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    idle_timeout_ms: int | None = None
    eagerness: Eagerness | None = None
    create_response: bool = True
    interrupt_response: bool = True
    transcription_model: str | None = "whisper-1"
    noise_reduction: NoiseReduction | None = "near_field"
    speed: float | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    say_template: str = DEFAULT_SAY_TEMPLATE


def _turn_detection(s: RealtimeSettings) -> dict[str, Any]:
    td: dict[str, Any] = {"type": s.turn_detection}
    if s.turn_detection == "server_vad":
        optional = {
            "threshold": s.vad_threshold,
            "prefix_padding_ms": s.prefix_padding_ms,
            "silence_duration_ms": s.silence_duration_ms,
            "idle_timeout_ms": s.idle_timeout_ms,
        }
        td.update({k: v for k, v in optional.items() if v is not None})
    elif s.eagerness is not None:
        td["eagerness"] = s.eagerness
    td["create_response"] = s.create_response
    td["interrupt_response"] = s.interrupt_response
    return td


def function_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """GA function tools: flat ``{"type": "function", "name", "description", "parameters"}``."""
    return [
        {"type": "function", "name": t.name, "description": t.description, "parameters": dict(t.parameters)}
        for t in tools
    ]


def session_update(
    settings: RealtimeSettings, config: EngineConfig, input_format: AudioFormat, output_format: AudioFormat
) -> dict[str, Any]:
    """The one ``session.update`` of a call (sent again, identical, after a reconnect)."""
    audio_in: dict[str, Any] = {
        "format": wire_format(input_format),
        "turn_detection": _turn_detection(settings),
    }
    if settings.transcription_model:
        transcription: dict[str, Any] = {"model": settings.transcription_model}
        if config.language:
            transcription["language"] = config.language.split("-", 1)[0].lower()
        audio_in["transcription"] = transcription
    audio_in["noise_reduction"] = {"type": settings.noise_reduction} if settings.noise_reduction else None
    audio_out: dict[str, Any] = {"format": wire_format(output_format), "voice": settings.voice}
    if settings.speed is not None:
        audio_out["speed"] = settings.speed
    session: dict[str, Any] = {
        "type": "realtime",
        "model": settings.model,
        "instructions": config.instructions,
        "output_modalities": ["audio"],
        "audio": {"input": audio_in, "output": audio_out},
        "tools": function_tools(config.tools),
        "tool_choice": "auto",
    }
    if settings.max_output_tokens is not None:
        session["max_output_tokens"] = settings.max_output_tokens
    return {"type": "session.update", "session": session}


def append_audio(audio: bytes) -> dict[str, Any]:
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode("ascii")}


_APPEND_HEAD = '{"type":"input_audio_buffer.append","audio":"'


def append_audio_json(audio: bytes) -> str:
    """:func:`append_audio` serialised, byte for byte what ``json.dumps(..., separators=(",", ":"))``
    gives, without building the dict: the session sends one of these every 20 ms per call, and
    base64 text needs no JSON escaping."""
    return _APPEND_HEAD + base64.b64encode(audio).decode("ascii") + '"}'


def say_instructions(template: str, text: str) -> str:
    return template.replace("{text}", text.replace('"', "'"))


def create_response(*, instructions: str | None = None) -> dict[str, Any]:
    """``response.create``; with ``instructions`` they replace the session's for this response only."""
    if instructions is None:
        return {"type": "response.create"}
    return {"type": "response.create", "response": {"instructions": instructions}}


def cancel_response() -> dict[str, Any]:
    return {"type": "response.cancel"}


def function_call_output(call_id: str, output: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": call_id, "output": output},
    }


def create_history_item(role: Literal["user", "assistant"], text: str) -> dict[str, Any]:
    """A text message restoring context after a reconnect (user ``input_text``, assistant ``output_text``)."""
    part = "input_text" if role == "user" else "output_text"
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": role, "content": [{"type": part, "text": text}]},
    }


def truncate_item(item_id: str, audio_end_ms: int) -> dict[str, Any]:
    return {
        "type": "conversation.item.truncate",
        "item_id": item_id,
        "content_index": 0,
        "audio_end_ms": audio_end_ms,
    }
