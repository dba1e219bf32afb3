"""``llm="local"``: a deterministic, rule-based receptionist behind the LLM interface.

It is not a language model. It recognises a handful of intents in the caller's last turn and the
conversation so far (greeting; booking an appointment, asking for the missing day or time; opening
hours; "speak to a human"; goodbye), tolerating speech-recognition errors, and calls the agent's tools
the way a model would:

* booking: the first offered tool whose name (or else description) mentions booking, appointment,
  reservation or scheduling, with arguments built from its JSON-schema property names (``date``,
  ``day``, ``time``, ``datetime``, ``name`` ...); after its result it confirms ("You're booked for
  Tuesday at 3 PM.");
* ``transfer_call`` when the caller asks for a person, ``end_call`` after saying goodbye.

Replies stream as :class:`TextDelta` pieces of a few words, then whole :class:`ToolCallRequest`
objects, then :class:`LLMDone` -- the shape of a real streamed completion, so the session code
path is the same. The same history always gives the same output (no clock unless ``today`` is left
unset, no randomness); call ids are derived from the history.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from patter_core.interfaces.llm import (
    LLM,
    ChatMessage,
    LLMCapabilities,
    LLMChunk,
    LLMDone,
    Role,
    TextDelta,
    ToolCallRequest,
    ToolSpec,
)
from patter_local._dialogue import Plan, decide
from patter_local._parse import Slot, has_keyword, words

__all__ = ["LocalLLM", "build_arguments"]


class LocalLLM(LLM):
    """The offline, deterministic receptionist brain.

    Args:
        hours: what to say when asked for opening hours (default: a sentence of the system prompt
            that mentions hours or opening times, else a generic Monday-to-Saturday schedule).
        today: the date "tomorrow" and "Tuesday" are counted from; a date, or a callable returning
            one (default: the local date at each request). Fix it for reproducible tool arguments.
        words_per_chunk: how many words each streamed :class:`TextDelta` carries.
    """

    capabilities = LLMCapabilities(tools=True, parallel_tool_calls=False)

    def __init__(
        self,
        *,
        hours: str | None = None,
        today: dt.date | Callable[[], dt.date] | None = None,
        words_per_chunk: int = 3,
    ) -> None:
        if words_per_chunk < 1:
            raise ValueError(f"words_per_chunk must be >= 1, got {words_per_chunk}")
        self.hours = hours
        self._today = today
        self.words_per_chunk = words_per_chunk

    def today(self) -> dt.date:
        if self._today is None:
            return dt.date.today()
        return self._today() if callable(self._today) else self._today

    def plan(self, messages: Sequence[ChatMessage], *, tools: Sequence[ToolSpec] = ()) -> Plan:
        """The reply and tool calls for this history, without streaming (useful in tests)."""
        return decide(messages, tools, today=self.today(), hours=self.hours)

    async def stream(
        self, messages: Sequence[ChatMessage], *, tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[LLMChunk]:
        plan = self.plan(messages, tools=tools)
        pieces = plan.text.split()
        for start in range(0, len(pieces), self.words_per_chunk):
            chunk = " ".join(pieces[start : start + self.words_per_chunk])
            yield TextDelta(chunk if start == 0 else " " + chunk)
            await asyncio.sleep(0)
        seed = _history_digest(messages)
        for index, call in enumerate(plan.calls):
            arguments = build_arguments(call.tool, call.values, today=self.today(), context=messages)
            call_id = f"call_local_{seed}_{index}"
            yield ToolCallRequest(call_id=call_id, name=call.tool.name, arguments=json.dumps(arguments))
        usage = {"input_tokens": sum(len(m.content.split()) for m in messages), "output_tokens": len(pieces)}
        yield LLMDone(finish_reason="tool_calls" if plan.calls else "stop", usage=usage)


def _history_digest(messages: Sequence[ChatMessage]) -> str:
    digest = hashlib.sha256()
    for message in messages:
        digest.update(f"{message.role}\x00{message.content}\x00{len(message.tool_calls)}\x01".encode())
    return digest.hexdigest()[:12]


def build_arguments(
    tool: ToolSpec, values: Mapping[str, object], *, today: dt.date, context: Sequence[ChatMessage] = ()
) -> dict[str, Any]:
    """Tool arguments from semantic ``values`` (``slot``, ``name``, ``reason``), by property name.

    Each JSON-schema property gets the value its name asks for: ``date`` (ISO date), ``day`` (as said),
    ``time`` (``15:00``), ``datetime``/``start``/``format: date-time`` (ISO date and time), ``when``/
    ``slot`` (``Tuesday at 3 PM``), ``hour``/``minute`` (integers), ``name``, ``reason``/``notes``.
    A property with an ``enum`` gets the member the caller mentioned, else the first one; so does a
    destination-like property (``destination``, ``department`` ...) whose description, or the tool's,
    lists its options ("must be one of: reception, sales"). Properties with nothing to fill are left
    out unless required (then a neutral value of their type).
    """
    properties: Mapping[str, Any] = tool.parameters.get("properties", {}) or {}
    required = set(tool.parameters.get("required", ()) or ())
    slot = values.get("slot")
    slot = slot if isinstance(slot, Slot) else Slot()
    spoken = words(" ".join(m.content for m in context if m.role is Role.USER))
    arguments: dict[str, Any] = {}
    for name, raw_schema in properties.items():
        schema: Mapping[str, Any] = raw_schema if isinstance(raw_schema, Mapping) else {}
        value = _value_for(name.lower(), schema, slot, values, spoken)
        if value is None:
            value = _choice_for(name.lower(), schema, tool.description, spoken)
        if value is None and name in required:
            value = _neutral(schema)
        if value is not None:
            arguments[name] = value
    return arguments


def _value_for(
    name: str, schema: Mapping[str, Any], slot: Slot, values: Mapping[str, object], spoken: list[str]
) -> Any:
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        for member in enum:
            if has_keyword(spoken, (str(member).lower(),)):
                return member
        return enum[0]
    kind = schema.get("type")
    fmt = str(schema.get("format", ""))
    iso_date = slot.date.isoformat() if slot.date else None
    iso_datetime = f"{iso_date}T{slot.time_24h}:00" if iso_date and slot.time_24h else None
    if kind in ("integer", "number"):
        if "hour" in name:
            return slot.hour
        if "minute" in name:
            return slot.minute if slot.hour is not None else None
        return None
    if (
        fmt == "date-time"
        or ("date" in name and "time" in name)
        or name in ("start", "starts_at", "start_at")
    ):
        return iso_datetime
    if fmt == "date" or "date" in name:
        return iso_date or slot.day
    if fmt == "time" or "time" in name or "hour" in name:
        return slot.time_24h
    if "day" in name:
        return slot.day
    if name in ("when", "slot", "appointment", "appointment_time", "timeslot"):
        return slot.describe() or None
    if "name" in name:
        return values.get("name")
    if any(word in name for word in ("reason", "note", "purpose", "summary", "service", "description")):
        return values.get("reason")
    return None


_DESTINATION_WORDS = ("destination", "department", "target", "queue", "line", "to", "number", "transfer")
_ONE_OF = re.compile(r"\bone of:?\s*([^.;]+)", re.IGNORECASE)


def _choice_for(name: str, schema: Mapping[str, Any], tool_description: str, spoken: list[str]) -> Any:
    """For a destination-like property: one of the options its description (or the tool's) lists
    ("destination must be one of: reception, sales"), the one the caller named if any."""
    if not any(word in name.split("_") or name == word for word in _DESTINATION_WORDS):
        return None
    for text in (str(schema.get("description", "")), tool_description):
        match = _ONE_OF.search(text)
        if not match:
            continue
        options = [o.strip(" '\"") for o in re.split(r",\s*|\s+or\s+", match.group(1)) if o.strip(" '\"")]
        options = [o for o in options if "none" not in o.lower() and "configured" not in o.lower()]
        if options:
            return next((o for o in options if has_keyword(spoken, (o.lower(),))), options[0])
    return None


def _neutral(schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    return {"string": "", "integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}.get(
        kind if isinstance(kind, str) else "string", ""
    )
