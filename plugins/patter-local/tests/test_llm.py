"""LocalLLM: the receptionist's dialogues, tool calls, streaming shape and tolerance of STT errors."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import pytest
from patter_local import LocalLLM

from patter_core.interfaces.llm import ChatMessage, LLMDone, Role, TextDelta, ToolCallRequest, ToolSpec

TODAY = dt.date(2025, 11, 25)  # a Tuesday

BOOK = ToolSpec(
    name="book_appointment",
    description="Book an appointment in the calendar.",
    parameters={
        "type": "object",
        "properties": {
            "date": {"type": "string", "description": "ISO date"},
            "time": {"type": "string", "description": "24h time"},
            "name": {"type": "string"},
        },
        "required": ["date", "time"],
    },
)
TRANSFER = ToolSpec(
    name="transfer_call",
    description="Transfer the caller to a human or another line. destination must be one of: reception, billing.",
    parameters={
        "type": "object",
        "properties": {"destination": {"type": "string"}, "reason": {"type": "string"}},
        "required": ["destination"],
    },
)
END = ToolSpec(
    name="end_call",
    description="Hang up the call, after saying goodbye, when the conversation is over.",
    parameters={"type": "object", "properties": {"reason": {"type": "string"}}},
)
TOOLS = (BOOK, TRANSFER, END)


class Conversation:
    """Drives the brain turn by turn the way the pipeline does, tool results included."""

    def __init__(self, tools: Sequence[ToolSpec] = TOOLS, *, system: str = "You are a receptionist.") -> None:
        self.llm = LocalLLM(today=TODAY)
        self.tools = tuple(tools)
        self.history: list[ChatMessage] = [ChatMessage(Role.SYSTEM, system)]

    async def respond(self) -> tuple[str, list[ToolCallRequest], list[object]]:
        chunks = [chunk async for chunk in self.llm.stream(self.history, tools=self.tools)]
        text = "".join(c.text for c in chunks if isinstance(c, TextDelta))
        calls = [c for c in chunks if isinstance(c, ToolCallRequest)]
        self.history.append(ChatMessage(Role.ASSISTANT, text, tool_calls=tuple(calls)))
        return text, calls, chunks

    async def say(self, text: str) -> tuple[str, list[ToolCallRequest]]:
        self.history.append(ChatMessage(Role.USER, text))
        reply, calls, _ = await self.respond()
        return reply, calls

    async def result(self, call: ToolCallRequest, output: str) -> str:
        self.history.append(ChatMessage(Role.TOOL, output, tool_call_id=call.call_id, name=call.name))
        reply, calls, _ = await self.respond()
        assert calls == []
        return reply


async def test_full_booking_conversation_calls_the_booking_tool_and_confirms() -> None:
    chat = Conversation()
    reply, calls = await chat.say("Hello!")
    assert reply == "Hello! How can I help you today?" and calls == []
    reply, calls = await chat.say("Hi, I'd like to book an appointment please.")
    assert "what day and time" in reply.lower() and calls == []
    reply, calls = await chat.say("Do you have anything available on Tuesday?")
    assert "what time on tuesday" in reply.lower() and calls == []
    reply, calls = await chat.say("Three in the afternoon would be great.")
    assert [c.name for c in calls] == ["book_appointment"]
    assert json.loads(calls[0].arguments) == {"date": "2025-12-02", "time": "15:00"}
    assert "Tuesday at 3 PM" in reply
    confirmation = await chat.result(calls[0], '{"confirmation": "A1B2"}')
    assert confirmation.startswith("You're booked for Tuesday at 3 PM.")
    reply, calls = await chat.say("No, that's all. Thank you, goodbye.")
    assert "goodbye" in reply.lower()
    assert [c.name for c in calls] == ["end_call"]
    assert await chat.result(calls[0], "call ended") == ""


async def test_asks_for_the_day_when_only_a_time_is_given_and_for_a_required_name() -> None:
    needs_name = ToolSpec(
        name="schedule_visit",
        description="Create a visit.",
        parameters={
            "type": "object",
            "properties": {"when": {"type": "string"}, "customer_name": {"type": "string"}},
            "required": ["when", "customer_name"],
        },
    )
    chat = Conversation((needs_name, END))
    reply, _ = await chat.say("Can I book something at 10 in the morning?")
    assert reply == "What day would you like to come in at 10 AM?"
    reply, calls = await chat.say("Tomorrow.")
    assert reply == "Can I have your name for the booking, please?" and calls == []
    reply, calls = await chat.say("Sure, it's Maria Lopez.")
    assert [c.name for c in calls] == ["schedule_visit"]
    assert json.loads(calls[0].arguments) == {"when": "tomorrow at 10 AM", "customer_name": "Maria Lopez"}


@pytest.mark.parametrize(
    ("utterance", "expected"),
    [
        ("Free in the afternoon would be great.", "15:00"),  # Whisper's "three" on a phone line
        ("free and the afternoon would be great.", "15:00"),  # ... sometimes with "in" misheard too
        ("Actually, make that tomorrow attend in the morning.", "10:00"),  # "at ten"
        ("Could you do Friday at 4.30?", "16:30"),
        ("How about half past two?", "14:30"),
        ("three p.m. please", "15:00"),
        ("Let's say 11 am.", "11:00"),
        ("At noon, please.", "12:00"),
        ("Quarter to five.", "16:45"),
        ("nine o'clock", "09:00"),
    ],
)
async def test_times_are_understood_despite_recognition_errors(utterance: str, expected: str) -> None:
    chat = Conversation()
    await chat.say("I want to book an appointment for Wednesday.")
    _, calls = await chat.say(utterance)
    assert [c.name for c in calls] == ["book_appointment"], utterance
    assert json.loads(calls[0].arguments)["time"] == expected


@pytest.mark.parametrize(
    ("utterance", "date"),
    [
        ("tomorrow at 3 pm", "2025-11-26"),
        ("on Tuesday at 3", "2025-12-02"),  # the next Tuesday, never today
        ("next friday at 10 am", "2025-11-28"),
        ("wensday at 11 am", "2025-11-26"),  # misspelt weekday
        ("the day after tomorrow at 2", "2025-11-27"),
        ("December the 3rd at 9 in the morning", "2025-12-03"),
        ("the fifth of January at four", "2026-01-05"),
    ],
)
async def test_days_and_dates_are_understood(utterance: str, date: str) -> None:
    chat = Conversation()
    _, calls = await chat.say(f"I'd like to make an appointmint {utterance}")
    assert [c.name for c in calls] == ["book_appointment"], utterance
    assert json.loads(calls[0].arguments)["date"] == date


@pytest.mark.parametrize(
    "utterance",
    [
        "Can I speak to a human please?",
        "Put me through to a representive.",
        "I want to talk to someone",
        "operator!",
    ],
)
async def test_asking_for_a_person_transfers_to_a_listed_destination(utterance: str) -> None:
    chat = Conversation()
    reply, calls = await chat.say(utterance)
    assert "transfer" in reply.lower()
    assert [c.name for c in calls] == ["transfer_call"]
    arguments = json.loads(calls[0].arguments)
    assert arguments["destination"] == "reception"
    assert arguments["reason"]


async def test_transfer_picks_the_destination_the_caller_named_and_handles_a_refusal() -> None:
    chat = Conversation()
    _, calls = await chat.say("Can I talk to someone in billing?")
    assert json.loads(calls[0].arguments)["destination"] == "billing"
    reply = await chat.result(calls[0], "error: 'billing' is not an allowed transfer destination")
    assert reply.startswith("Sorry, I couldn't transfer you")


async def test_without_the_tools_the_brain_still_answers() -> None:
    chat = Conversation(tools=())
    reply, calls = await chat.say("Can I speak to a human?")
    assert calls == [] and "no one available" in reply
    reply, calls = await chat.say("Book me in for Monday at 9 am.")
    assert calls == [] and reply.startswith("Great, I've noted your appointment for Monday at 9 AM.")
    reply, calls = await chat.say("Bye!")
    assert calls == [] and reply == "Thank you for calling. Goodbye!"


async def test_opening_hours_come_from_the_system_prompt_when_it_has_them() -> None:
    chat = Conversation(
        system="You answer for Bright Smile Dental. Our hours are 8 AM to 6 PM, Monday to Friday."
    )
    reply, calls = await chat.say("What are your opening hours on Saturday?")
    assert reply.startswith("Our hours are 8 AM to 6 PM, Monday to Friday.") and calls == []
    reply, calls = await chat.say("Yes please.")
    assert "what day and time" in reply.lower()
    default = Conversation()
    reply, _ = await default.say("When are you open?")
    assert reply.startswith("We're open Monday to Friday")


async def test_a_failed_booking_is_apologised_for_and_a_new_time_is_booked() -> None:
    chat = Conversation()
    _, calls = await chat.say("Book me for Thursday at 2 pm please")
    reply = await chat.result(calls[0], "error: that slot is already taken")
    assert reply == "Sorry, I couldn't book Thursday at 2 PM. Would another day or time work?"
    reply, calls = await chat.say("Then 4 pm.")
    assert [c.name for c in calls] == ["book_appointment"]
    assert json.loads(calls[0].arguments) == {"date": "2025-11-27", "time": "16:00"}
    assert (await chat.result(calls[0], "booked")).startswith("You're booked for Thursday at 4 PM.")


async def test_rebooking_after_a_booking_uses_the_new_slot() -> None:
    chat = Conversation()
    _, calls = await chat.say("Book Monday at 10 am")
    await chat.result(calls[0], "ok")
    _, calls = await chat.say("Could you move my booking to Friday at four thirty?")
    assert json.loads(calls[0].arguments) == {"date": "2025-11-28", "time": "16:30"}


async def test_unclear_input_gets_a_helpful_reprompt() -> None:
    chat = Conversation()
    reply, calls = await chat.say("Purple elephants.")
    assert reply.startswith("Sorry, I didn't catch that.") and "opening hours" in reply and calls == []
    await chat.say("I need an appointment.")
    reply, _ = await chat.say("Hmm, let me think.")
    assert reply == "Sorry, I didn't catch that. What day and time would you like?"
    reply, _ = await chat.say("")
    assert "say that again" in reply


async def test_no_to_anything_else_ends_the_call() -> None:
    chat = Conversation()
    reply, _ = await chat.say("Thanks!")
    assert reply.endswith("Is there anything else I can help you with?")
    reply, calls = await chat.say("No.")
    assert reply == "Thank you for calling. Goodbye!" and [c.name for c in calls] == ["end_call"]


async def test_cancellation_without_a_cancel_tool_offers_a_person() -> None:
    chat = Conversation()
    reply, calls = await chat.say("I need to cancel my dentist appointment next week.")
    assert "can't cancel" in reply and calls == []
    reply, calls = await chat.say("Yes, please.")
    assert [c.name for c in calls] == ["transfer_call"]


async def test_stream_shape_text_in_small_pieces_then_tool_calls_then_done() -> None:
    chat = Conversation()
    chat.history.append(ChatMessage(Role.USER, "Goodbye"))
    _, _, chunks = await chat.respond()
    texts = [c for c in chunks if isinstance(c, TextDelta)]
    assert len(texts) >= 2 and all(len(t.text.split()) <= 3 for t in texts)
    kinds = [type(c).__name__ for c in chunks]
    assert kinds == ["TextDelta"] * len(texts) + ["ToolCallRequest", "LLMDone"]
    done = chunks[-1]
    assert isinstance(done, LLMDone) and done.finish_reason == "tool_calls"
    chat.history.append(ChatMessage(Role.USER, "hello"))
    _, _, chunks = await chat.respond()
    assert isinstance(chunks[-1], LLMDone) and chunks[-1].finish_reason == "stop"


async def test_deterministic_and_call_ids_unique_within_a_conversation() -> None:
    first, second = Conversation(), Conversation()
    ids = []
    for chat in (first, second):
        for line in ("Book Monday at 10 am", "Actually, make it Tuesday at 11 am", "bye"):
            _, calls = await chat.say(line)
            ids += [c.call_id for c in calls]
            for call in calls:
                await chat.result(call, "ok")
    assert first.history == second.history
    assert ids[:3] == ids[3:] and len(set(ids[:3])) == 3


async def test_closing_the_stream_midway_is_clean() -> None:
    llm = LocalLLM(today=TODAY, words_per_chunk=1)
    stream = llm.stream([ChatMessage(Role.USER, "Hello there")], tools=TOOLS)
    first = await anext(stream)
    assert isinstance(first, TextDelta)
    await stream.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_no_user_turn_yet_greets() -> None:
    chunks = [c async for c in LocalLLM().stream([ChatMessage(Role.SYSTEM, "Be nice.")])]
    assert "".join(c.text for c in chunks if isinstance(c, TextDelta)) == "Hello! How can I help you today?"


def test_words_per_chunk_is_validated() -> None:
    with pytest.raises(ValueError, match="words_per_chunk"):
        LocalLLM(words_per_chunk=0)
