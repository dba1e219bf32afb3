"""A strict check of Realtime *client* events against the GA shapes (PROTOCOLS §3.3-§3.4).

Stricter than the official pydantic models, which allow extra keys: any key GA does not define is a
problem here, so a beta spelling (``input_audio_format``, ``modalities``, ``voice`` at session level,
``temperature`` ...) is caught wherever it hides. :func:`problems` returns human-readable strings;
an empty list means the event is valid GA.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from patter_openai.testing.schema_check import BETA_SESSION_KEYS, Check

__all__ = ["BETA_SESSION_KEYS", "CLIENT_EVENT_TYPES", "problems"]

CLIENT_EVENT_TYPES = frozenset(
    {
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "response.create",
        "response.cancel",
        "conversation.item.create",
        "conversation.item.truncate",
        "conversation.item.delete",
        "conversation.item.retrieve",
        "output_audio_buffer.clear",
    }
)
_SESSION_KEYS = {
    "type",
    "model",
    "instructions",
    "output_modalities",
    "audio",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "parallel_tool_calls",
    "reasoning",
    "prompt",
    "include",
    "tracing",
    "truncation",
}
_RESPONSE_KEYS = {
    "audio",
    "conversation",
    "input",
    "instructions",
    "max_output_tokens",
    "metadata",
    "output_modalities",
    "parallel_tool_calls",
    "prompt",
    "reasoning",
    "tool_choice",
    "tools",
}
_SERVER_VAD_KEYS = {
    "type",
    "threshold",
    "prefix_padding_ms",
    "silence_duration_ms",
    "create_response",
    "interrupt_response",
    "idle_timeout_ms",
}
_SEMANTIC_VAD_KEYS = {"type", "eagerness", "create_response", "interrupt_response"}
_MAX_APPEND_BYTES = 15 * 1024 * 1024


def problems(event: object) -> list[str]:
    """Everything that makes ``event`` an invalid GA client event (empty when valid)."""
    c = Check()
    if not isinstance(event, Mapping):
        return ["event: must be a JSON object"]
    kind = event.get("type")
    if kind not in CLIENT_EVENT_TYPES:
        return [f"type: {kind!r} is not a GA client event"]
    if "event_id" in event:
        c.string(event["event_id"], "event_id", empty_ok=False)
    body = {k: v for k, v in event.items() if k not in ("type", "event_id")}
    checker = _CHECKERS[str(kind)]
    checker(c, body)
    return c.found


def _session_update(c: Check, body: Mapping[str, Any]) -> None:
    if not c.obj(body, "session.update", {"session"}, ("session",)):
        return
    s = body["session"]
    if not c.obj(s, "session", _SESSION_KEYS, ("type",)):
        return
    c.string(s.get("type"), "session.type", choices=("realtime",))
    for key in ("model", "instructions"):
        if key in s:
            c.string(s[key], f"session.{key}")
    if "output_modalities" in s and s["output_modalities"] not in (["audio"], ["text"]):
        c.fail("session.output_modalities", f"must be ['audio'] or ['text'], got {s['output_modalities']!r}")
    if "audio" in s:
        _audio(c, s["audio"])
    if "tools" in s:
        _tools(c, s["tools"], "session.tools")
    if "tool_choice" in s:
        _tool_choice(c, s["tool_choice"], "session.tool_choice")
    if "max_output_tokens" in s and s["max_output_tokens"] != "inf":
        c.integer(s["max_output_tokens"], "session.max_output_tokens", 1, 4096)


def _audio(c: Check, audio: object) -> None:
    if not c.obj(audio, "session.audio", {"input", "output"}):
        return
    assert isinstance(audio, Mapping)
    if "input" in audio and c.obj(
        audio["input"],
        "session.audio.input",
        {"format", "noise_reduction", "transcription", "turn_detection"},
    ):
        a_in = audio["input"]
        if "format" in a_in:
            _format(c, a_in["format"], "session.audio.input.format")
        nr = a_in.get("noise_reduction")
        if nr is not None and c.obj(nr, "session.audio.input.noise_reduction", {"type"}, ("type",)):
            c.string(
                nr["type"], "session.audio.input.noise_reduction.type", choices=("near_field", "far_field")
            )
        tr = a_in.get("transcription")
        if tr is not None and c.obj(tr, "session.audio.input.transcription", {"model", "language", "prompt"}):
            for key in tr:
                c.string(tr[key], f"session.audio.input.transcription.{key}")
        if a_in.get("turn_detection") is not None:
            _turn_detection(c, a_in["turn_detection"])
    if "output" in audio and c.obj(audio["output"], "session.audio.output", {"format", "voice", "speed"}):
        a_out = audio["output"]
        if "format" in a_out:
            _format(c, a_out["format"], "session.audio.output.format")
        if "voice" in a_out and not isinstance(a_out["voice"], str | Mapping):
            c.fail("session.audio.output.voice", "must be a voice name or {'id': ...}")
        if "speed" in a_out:
            c.number(a_out["speed"], "session.audio.output.speed", 0.25, 1.5)


def _format(c: Check, fmt: object, where: str) -> None:
    if not isinstance(fmt, Mapping):
        c.fail(where, f"must be an object like {{'type': 'audio/pcmu'}}, got {fmt!r} (beta spelling?)")
        return
    kind = fmt.get("type")
    if kind == "audio/pcm":
        c.obj(fmt, where, {"type", "rate"})
        if fmt.get("rate", 24000) != 24000:
            c.fail(where, f"audio/pcm rate must be 24000, got {fmt.get('rate')!r}")
    elif kind in ("audio/pcmu", "audio/pcma"):
        c.obj(fmt, where, {"type"})
    else:
        c.fail(where, f"unknown format type {kind!r}")


def _turn_detection(c: Check, td: object) -> None:
    where = "session.audio.input.turn_detection"
    if not isinstance(td, Mapping):
        c.fail(where, "must be an object or null")
        return
    kind = td.get("type")
    if kind == "server_vad":
        c.obj(td, where, _SERVER_VAD_KEYS)
        if "threshold" in td:
            c.number(td["threshold"], f"{where}.threshold", 0.0, 1.0)
        for key in ("prefix_padding_ms", "silence_duration_ms"):
            if key in td:
                c.integer(td[key], f"{where}.{key}", 0)
        if td.get("idle_timeout_ms") is not None:
            c.integer(td["idle_timeout_ms"], f"{where}.idle_timeout_ms", 0)
    elif kind == "semantic_vad":
        c.obj(td, where, _SEMANTIC_VAD_KEYS)
        if "eagerness" in td:
            c.string(td["eagerness"], f"{where}.eagerness", choices=("auto", "low", "medium", "high"))
    else:
        c.fail(where, f"type must be server_vad or semantic_vad, got {kind!r}")
        return
    for key in ("create_response", "interrupt_response"):
        if key in td:
            c.boolean(td[key], f"{where}.{key}")


def _tools(c: Check, tools: object, where: str) -> None:
    if not isinstance(tools, list):
        c.fail(where, "must be a list")
        return
    for i, tool in enumerate(tools):
        w = f"{where}[{i}]"
        if c.obj(tool, w, {"type", "name", "description", "parameters"}, ("type", "name")):
            c.string(tool["type"], f"{w}.type", choices=("function",))
            c.string(tool["name"], f"{w}.name", empty_ok=False)
            if "parameters" in tool and not isinstance(tool["parameters"], Mapping):
                c.fail(f"{w}.parameters", "must be a JSON-schema object")


def _tool_choice(c: Check, choice: object, where: str) -> None:
    if isinstance(choice, str):
        c.string(choice, where, choices=("auto", "none", "required"))
    elif c.obj(choice, where, {"type", "name"}, ("type", "name")):
        assert isinstance(choice, Mapping)
        c.string(choice["type"], f"{where}.type", choices=("function",))


def _append(c: Check, body: Mapping[str, Any]) -> None:
    if not c.obj(body, "input_audio_buffer.append", {"audio"}, ("audio",)):
        return
    audio = body["audio"]
    if not isinstance(audio, str) or not audio:
        c.fail("audio", "must be a non-empty base64 string")
        return
    try:
        size = len(base64.b64decode(audio, validate=True))
    except (binascii.Error, ValueError):
        c.fail("audio", "is not valid base64")
        return
    if size > _MAX_APPEND_BYTES:
        c.fail("audio", f"{size} bytes exceeds 15 MiB")


def _bare(name: str) -> Any:
    def check(c: Check, body: Mapping[str, Any]) -> None:
        c.obj(body, name, set())

    return check


def _response_create(c: Check, body: Mapping[str, Any]) -> None:
    if not c.obj(body, "response.create", {"response"}) or "response" not in body:
        return
    r = body["response"]
    if not c.obj(r, "response", _RESPONSE_KEYS):
        return
    if "instructions" in r:
        c.string(r["instructions"], "response.instructions")
    if "conversation" in r:
        c.string(r["conversation"], "response.conversation", choices=("auto", "none"))
    if "output_modalities" in r and r["output_modalities"] not in (["audio"], ["text"]):
        c.fail("response.output_modalities", "must be ['audio'] or ['text']")
    if "tools" in r:
        _tools(c, r["tools"], "response.tools")
    if "tool_choice" in r:
        _tool_choice(c, r["tool_choice"], "response.tool_choice")
    if "metadata" in r and (not isinstance(r["metadata"], Mapping) or len(r["metadata"]) > 16):
        c.fail("response.metadata", "must be an object of at most 16 pairs")


def _response_cancel(c: Check, body: Mapping[str, Any]) -> None:
    if c.obj(body, "response.cancel", {"response_id"}) and "response_id" in body:
        c.string(body["response_id"], "response_id", empty_ok=False)


_CONTENT_TYPES = {
    "user": ("input_text", "input_audio", "input_image"),
    "system": ("input_text",),
    "assistant": ("output_text", "output_audio"),
}


def _item_create(c: Check, body: Mapping[str, Any]) -> None:
    if not c.obj(body, "conversation.item.create", {"item", "previous_item_id"}, ("item",)):
        return
    item = body["item"]
    if not isinstance(item, Mapping):
        c.fail("item", "must be an object")
        return
    kind = item.get("type")
    if kind == "function_call_output":
        if c.obj(
            item, "item", {"type", "id", "object", "status", "call_id", "output"}, ("call_id", "output")
        ):
            c.string(item["call_id"], "item.call_id", empty_ok=False)
            c.string(item["output"], "item.output")
    elif kind == "function_call":
        if c.obj(
            item,
            "item",
            {"type", "id", "object", "status", "call_id", "name", "arguments"},
            ("name", "arguments"),
        ):
            c.string(item["name"], "item.name", empty_ok=False)
            c.string(item["arguments"], "item.arguments")
    elif kind == "message":
        if not c.obj(
            item, "item", {"type", "id", "object", "status", "role", "content"}, ("role", "content")
        ):
            return
        role = item["role"]
        c.string(role, "item.role", choices=tuple(_CONTENT_TYPES))
        if not isinstance(item["content"], list) or not item["content"]:
            c.fail("item.content", "must be a non-empty list")
            return
        for i, part in enumerate(item["content"]):
            if isinstance(part, Mapping) and role in _CONTENT_TYPES:
                c.string(part.get("type"), f"item.content[{i}].type", choices=_CONTENT_TYPES[role])
                c.obj(
                    part, f"item.content[{i}]", {"type", "text", "audio", "transcript", "image_url", "detail"}
                )
            else:
                c.fail(f"item.content[{i}]", "must be an object")
    else:
        c.fail("item.type", f"must be message, function_call or function_call_output, got {kind!r}")


def _truncate(c: Check, body: Mapping[str, Any]) -> None:
    if c.obj(
        body,
        "conversation.item.truncate",
        {"item_id", "content_index", "audio_end_ms"},
        ("item_id", "content_index", "audio_end_ms"),
    ):
        c.string(body["item_id"], "item_id", empty_ok=False)
        c.integer(body["content_index"], "content_index", 0)
        c.integer(body["audio_end_ms"], "audio_end_ms", 0)


def _item_ref(name: str) -> Any:
    def check(c: Check, body: Mapping[str, Any]) -> None:
        if c.obj(body, name, {"item_id"}, ("item_id",)):
            c.string(body["item_id"], "item_id", empty_ok=False)

    return check


def _webrtc_only(c: Check, body: Mapping[str, Any]) -> None:
    c.fail("output_audio_buffer.clear", "exists only on WebRTC/SIP connections, not on a WebSocket")


_CHECKERS: dict[str, Any] = {
    "session.update": _session_update,
    "input_audio_buffer.append": _append,
    "input_audio_buffer.commit": _bare("input_audio_buffer.commit"),
    "input_audio_buffer.clear": _bare("input_audio_buffer.clear"),
    "response.create": _response_create,
    "response.cancel": _response_cancel,
    "conversation.item.create": _item_create,
    "conversation.item.truncate": _truncate,
    "conversation.item.delete": _item_ref("conversation.item.delete"),
    "conversation.item.retrieve": _item_ref("conversation.item.retrieve"),
    "output_audio_buffer.clear": _webrtc_only,
}
