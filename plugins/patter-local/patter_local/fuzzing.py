"""Fuzz target for the local brain's understanding of speech-to-text output (:mod:`patter_core.testing.fuzz`).

``local-brain`` -- caller turns of any text (recognition garbage, numbers, other scripts, huge turns)
through :class:`~patter_local.llm.LocalLLM` in one growing conversation; each tool call it makes is
answered with the next fuzzed text as the tool's result. It must always stream well-typed chunks,
end with :class:`LLMDone`, and give tool calls whose arguments are a JSON object.
"""

from __future__ import annotations

import datetime as dt
import json

from patter_core.interfaces.llm import ChatMessage, LLMDone, Role, TextDelta, ToolCallRequest, ToolSpec
from patter_core.testing.fuzz import Feed, FuzzTarget, check_fields
from patter_core.testing.mutate import Message
from patter_local.llm import LocalLLM

__all__ = ["fuzz_targets"]

TOOLS = (
    ToolSpec(
        "book_appointment",
        "Book an appointment.",
        {
            "type": "object",
            "properties": {"day": {"type": "string"}, "time": {"type": "string"}, "name": {"type": "string"}},
            "required": ["day", "time"],
        },
    ),
    ToolSpec(
        "transfer_call",
        "Transfer the caller.",
        {"type": "object", "properties": {"destination": {"type": "string"}}},
    ),
    ToolSpec("end_call", "Hang up.", {"type": "object", "properties": {}}),
)
TURNS = (
    "I'd like to book an appointment for Tuesday at 3 pm",
    "my name is Ann Lee",
    "what are your opening hours?",
    "can I speak to a human please",
    "three p.m. tomorrow, at for in the afternoon",
    "4.30 on the 21st of March",
    "okay thanks, bye",
)


def _brain() -> FuzzTarget:
    def make() -> Feed:
        llm = LocalLLM(today=dt.date(2026, 3, 2))
        history = [ChatMessage(Role.SYSTEM, "You book haircuts. We are open 9 to 5.")]
        pending_results: list[ToolCallRequest] = []

        async def feed(message: Message) -> None:
            text = message if isinstance(message, str) else message.decode("utf-8", "replace")
            if pending_results:  # the fuzzed text is the result of the tools the brain called
                for call in pending_results:
                    history.append(ChatMessage(Role.TOOL, text, tool_call_id=call.call_id, name=call.name))
                pending_results.clear()
            else:
                history.append(ChatMessage(Role.USER, text))
            said: list[str] = []
            calls: list[ToolCallRequest] = []
            done = False
            async for chunk in llm.stream(list(history), tools=TOOLS):
                check_fields(chunk)
                if done:
                    raise AssertionError(f"{chunk!r} after LLMDone")
                if isinstance(chunk, TextDelta):
                    said.append(chunk.text)
                elif isinstance(chunk, ToolCallRequest):
                    if not isinstance(json.loads(chunk.arguments), dict):
                        raise AssertionError(f"arguments are not a JSON object: {chunk.arguments}")
                    calls.append(chunk)
                elif isinstance(chunk, LLMDone):
                    done = True
            if not done:
                raise AssertionError("the stream ended without LLMDone")
            history.append(ChatMessage(Role.ASSISTANT, "".join(said), tool_calls=tuple(calls)))
            pending_results.extend(calls)

        return feed

    return FuzzTarget("local-brain", TURNS, make)


def fuzz_targets() -> list[FuzzTarget]:
    return [_brain()]
