"""The local brain's dialogue rules: conversation history in, what to say and which tools to call out.

Stateless by design (an :class:`~patter_core.interfaces.LLM` must be): the booking in progress is
re-derived from the whole history on every turn, so the same history always gives the same reply.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence

import attrs

from patter_core.interfaces.llm import ChatMessage, Role, ToolCallRequest, ToolSpec
from patter_local._parse import Slot, extract_name, extract_slot, has_keyword, words

__all__ = ["Booking", "Plan", "PlannedCall", "decide", "find_tool"]

DEFAULT_HOURS = "We're open Monday to Friday from 9 AM to 5 PM, and on Saturday from 10 AM to 2 PM."
ANYTHING_ELSE = "Is there anything else I can help you with?"
ASK_NAME = "Can I have your name for the booking, please?"
OFFER_PERSON = "I can connect you to a person if you'd like."
OFFER_BOOKING = "Would you like to book an appointment?"

_TRANSFER = (
    "human", "humans", "representative", "operator", "agent", "transfer*", "manager", "person", "someone else",
    "speak to someone", "talk to someone", "speak with someone", "talk to somebody", "speak to somebody",
)  # fmt: skip
_GOODBYE = (
    "bye", "goodbye", "good bye", "that's all", "that is all", "that's it", "that will be all", "that'll be all",
    "nothing else", "hang up", "have a nice day", "have a good day", "see you", "no thanks", "no thank you",
)  # fmt: skip
_HOURS = (
    "hours", "are you open", "you open", "you close", "open on", "open today", "open tomorrow", "open until",
    "closing time", "opening time", "when do you open", "what time do you open", "what time do you close",
)  # fmt: skip
_BOOKING = (
    "book*", "appointment*", "reserv*", "schedul*", "slot", "slots", "available", "availability", "an opening",
)  # fmt: skip
_CANCEL = ("cancel*", "never mind", "nevermind", "forget it")
_GREETING = ("hi", "hello", "hey", "good morning", "good afternoon", "good evening")
_THANKS = ("thanks", "thank you", "appreciate*")
_YES = ("yes", "yeah", "yep", "yup", "sure", "okay", "ok", "correct", "of course", "definitely", "go ahead")
_NO = ("no", "nope", "nothing", "not really", "i'm good", "i'm fine", "all good")
_ERROR = re.compile(
    r"^\s*(error|failed|failure|sorry)\b|\b(error|not available|unavailable|failed|could not|couldn't|cannot"
    r"|can't|already booked|already taken|fully booked|no such|invalid|not found|not allowed|not an allowed"
    r"|refused|declined)\b",
    re.IGNORECASE,
)
_BOOKING_TOOL_WORDS = ("book", "appointment", "reserv", "schedul")


@attrs.frozen
class PlannedCall:
    tool: ToolSpec
    values: dict[str, object]
    """Semantic values (``slot``, ``name``, ``reason``) the arguments are built from."""


@attrs.frozen
class Plan:
    text: str
    calls: tuple[PlannedCall, ...] = ()


@attrs.define
class Booking:
    """A booking being arranged, re-derived from the history."""

    active: bool = False
    slot: Slot = attrs.field(factory=Slot)
    name: str | None = None
    booked: Slot | None = None


def find_tool(tools: Sequence[ToolSpec], kind: str) -> ToolSpec | None:
    """The offered tool for ``kind`` (``booking``, ``transfer``, ``end``, ``cancel``), if any."""
    if kind == "transfer":
        return next((t for t in tools if t.name == "transfer_call"), None) or next(
            (t for t in tools if "transfer" in t.name.lower()), None
        )
    if kind == "end":
        return next((t for t in tools if t.name == "end_call"), None) or next(
            (t for t in tools if t.name.lower() in ("hang_up", "hangup", "end_conversation")), None
        )
    if kind == "cancel":
        return next((t for t in tools if "cancel" in t.name.lower()), None)
    system = ("transfer_call", "end_call")
    candidates = [t for t in tools if t.name not in system and "cancel" not in t.name.lower()]
    by_name = [t for t in candidates if any(w in t.name.lower() for w in _BOOKING_TOOL_WORDS)]
    by_text = [t for t in candidates if any(w in t.description.lower() for w in _BOOKING_TOOL_WORDS)]
    matches = by_name or by_text
    return matches[0] if matches else None


def _requires_name(tool: ToolSpec) -> bool:
    required = tool.parameters.get("required", ()) or ()
    return any("name" in str(p).lower() for p in required)


def _is_error(content: str) -> bool:
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):  # a tool's output may be anything (a webhook's response body)
        return bool(_ERROR.search(content))
    if isinstance(data, dict):
        if data.get("error") or data.get("ok") is False or data.get("success") is False:
            return True
        return str(data.get("status", "")).lower() in ("error", "failed", "unavailable")
    return False


def _asked(message: ChatMessage | None, phrase: str) -> bool:
    return message is not None and phrase.lower() in message.content.lower()


def derive_booking(messages: Sequence[ChatMessage], tools: Sequence[ToolSpec], today: dt.date) -> Booking:
    """Replay the history: what is being booked, and what was booked."""
    booking = Booking()
    booking_tool = find_tool(tools, "booking")
    last_assistant: ChatMessage | None = None
    calls: dict[str, str] = {}
    for message in messages:
        if message.role is Role.ASSISTANT:
            last_assistant = message
            for call in message.tool_calls:
                calls[call.call_id] = call.name
                if booking_tool is not None and call.name == booking_tool.name:
                    booking.booked, booking.active = booking.slot, False
        elif message.role is Role.TOOL:
            name = message.name or calls.get(message.tool_call_id or "", "")
            if booking_tool is not None and name == booking_tool.name and _is_error(message.content):
                booking.active, booking.booked = True, None
        elif message.role is Role.USER:
            _update(booking, message.content, last_assistant, today)
            last_assistant = None
    return booking


def _update(booking: Booking, text: str, asked: ChatMessage | None, today: dt.date) -> None:
    tokens = words(text)
    booking.name = extract_name(text) or booking.name
    if booking.name is None and _asked(asked, ASK_NAME):
        booking.name = _bare_name(text)
    if has_keyword(tokens, _CANCEL) and not has_keyword(tokens, ("book*", "appointment*", "reserv*")):
        booking.active, booking.slot = False, Slot()
        return
    if has_keyword(tokens, _CANCEL):
        return
    said = extract_slot(tokens, today)
    wants = has_keyword(tokens, _BOOKING) or (_asked(asked, OFFER_BOOKING) and has_keyword(tokens, _YES))
    asks_hours = has_keyword(tokens, _HOURS) and not wants
    if wants and not booking.active:
        booking.active, booking.slot = True, Slot()
    if (said.day or said.hour is not None) and not asks_hours and not has_keyword(tokens, _TRANSFER):
        if not booking.active:
            booking.active, booking.slot = True, Slot()
        booking.slot = booking.slot.merged(said)


def _bare_name(text: str) -> str | None:
    cleaned = re.sub(
        r"(?i)\b(sure|yes|yeah|ok|okay|it's|it is|i'm|i am|please|thanks|thank you)\b", " ", text
    )
    parts = re.findall(r"[A-Za-z][A-Za-z'-]+", cleaned)[:3]
    return " ".join(p[:1].upper() + p[1:].lower() for p in parts) or None


def decide(
    messages: Sequence[ChatMessage], tools: Sequence[ToolSpec], *, today: dt.date, hours: str | None = None
) -> Plan:
    """What the receptionist says next, and which tools it calls."""
    hours_text = hours or _hours_from_prompt(messages) or DEFAULT_HOURS
    booking = derive_booking(messages, tools, today)
    trailing_results = _trailing_tool_results(messages)
    if trailing_results:
        return _after_tools(messages, trailing_results, tools, booking)
    users = [m for m in messages if m.role is Role.USER]
    if not users:
        return Plan("Hello! How can I help you today?")
    last_user = users[-1]
    previous = _assistant_before(messages, last_user)
    tokens = words(last_user.content)
    if not tokens:
        return Plan("Sorry, I didn't catch that. Could you say that again?")

    wants_person = has_keyword(tokens, _TRANSFER) or (
        _asked(previous, OFFER_PERSON) and has_keyword(tokens, _YES)
    )
    if wants_person and not (_asked(previous, OFFER_PERSON) and has_keyword(tokens, ("no", "nope"))):
        transfer = find_tool(tools, "transfer")
        if transfer is None:
            return Plan("I'm sorry, there's no one available to take your call right now. " + ANYTHING_ELSE)
        reason = "The caller asked to speak to a person."
        return Plan(
            "Of course. Let me transfer you to a member of our team.",
            (PlannedCall(transfer, {"reason": reason}),),
        )
    if has_keyword(tokens, _CANCEL) and has_keyword(tokens, ("book*", "appointment*", "reserv*")):
        cancel = find_tool(tools, "cancel")
        if cancel is not None:
            slot = extract_slot(tokens, today)
            return Plan(
                "Let me cancel that for you.", (PlannedCall(cancel, {"slot": slot, "name": booking.name}),)
            )
        return Plan("I'm sorry, I can't cancel appointments myself. " + OFFER_PERSON)
    if has_keyword(tokens, _HOURS) and not has_keyword(tokens, _BOOKING):
        return Plan(
            f"{hours_text} {OFFER_BOOKING}" if not booking.active else f"{hours_text} {_ask_missing(booking)}"
        )
    if booking.active and _mentions_booking(tokens, today, previous):
        return _booking_step(booking, tools)
    if has_keyword(tokens, _GOODBYE) or (_asked(previous, ANYTHING_ELSE) and has_keyword(tokens, _NO)):
        return _goodbye(tools)
    if booking.active and booking.name is not None and _asked(previous, ASK_NAME):
        return _booking_step(booking, tools)
    if has_keyword(tokens, _THANKS):
        return Plan("You're welcome! " + ANYTHING_ELSE)
    if has_keyword(tokens, _GREETING):
        return Plan("Hello! How can I help you today?")
    if (_asked(previous, OFFER_BOOKING) or _asked(previous, OFFER_PERSON)) and has_keyword(tokens, _NO):
        return Plan("No problem. " + ANYTHING_ELSE)
    if booking.active:
        return Plan("Sorry, I didn't catch that. " + _ask_missing(booking))
    return Plan(
        "Sorry, I didn't catch that. I can book an appointment, tell you our opening hours, "
        "or put you through to a person. What would you like?"
    )


def _mentions_booking(tokens: list[str], today: dt.date, previous: ChatMessage | None) -> bool:
    slot = extract_slot(tokens, today)
    yes_to_offer = _asked(previous, OFFER_BOOKING) and has_keyword(tokens, _YES)
    return has_keyword(tokens, _BOOKING) or slot.day is not None or slot.hour is not None or yes_to_offer


def _ask_missing(booking: Booking) -> str:
    slot = booking.slot
    if slot.day is None and slot.hour is None:
        return "What day and time would you like?"
    if slot.day is None:
        return f"What day would you like to come in at {slot.time_text}?"
    if slot.hour is None:
        return f"What time on {slot.day} works for you?"
    return ASK_NAME


def _booking_step(booking: Booking, tools: Sequence[ToolSpec]) -> Plan:
    slot = booking.slot
    if slot.day is None and slot.hour is None:
        return Plan("I'd be happy to book an appointment for you. " + _ask_missing(booking))
    if slot.day is None or slot.hour is None:
        return Plan(_ask_missing(booking))
    tool = find_tool(tools, "booking")
    if tool is None:
        return Plan(f"Great, I've noted your appointment for {slot.describe()}. {ANYTHING_ELSE}")
    if booking.name is None and _requires_name(tool):
        return Plan(ASK_NAME)
    values: dict[str, object] = {"slot": slot, "name": booking.name, "reason": "appointment"}
    return Plan(f"Let me book {slot.describe()} for you.", (PlannedCall(tool, values),))


def _goodbye(tools: Sequence[ToolSpec]) -> Plan:
    end = find_tool(tools, "end")
    calls = (PlannedCall(end, {"reason": "The caller said goodbye."}),) if end is not None else ()
    return Plan("Thank you for calling. Goodbye!", calls)


def _trailing_tool_results(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    results: list[ChatMessage] = []
    for message in reversed(messages):
        if message.role is not Role.TOOL:
            break
        results.append(message)
    return list(reversed(results))


def _assistant_before(messages: Sequence[ChatMessage], user: ChatMessage) -> ChatMessage | None:
    index = max(i for i, m in enumerate(messages) if m is user)
    for message in reversed(messages[:index]):
        if message.role is Role.ASSISTANT and message.content:
            return message
        if message.role is Role.USER:
            return None
    return None


def _after_tools(
    messages: Sequence[ChatMessage], results: list[ChatMessage], tools: Sequence[ToolSpec], booking: Booking
) -> Plan:
    requested: dict[str, ToolCallRequest] = {}
    for message in messages:
        for call in message.tool_calls:
            requested[call.call_id] = call
    booking_tool, transfer, end = (
        find_tool(tools, "booking"),
        find_tool(tools, "transfer"),
        find_tool(tools, "end"),
    )
    sentences: list[str] = []
    for result in results:
        request = requested.get(result.tool_call_id or "")
        name = result.name or (request.name if request else "")
        failed = _is_error(result.content)
        if booking_tool is not None and name == booking_tool.name:
            when = booking.booked.describe() if booking.booked else booking.slot.describe()
            if failed:
                sentences.append(f"Sorry, I couldn't book {when}. Would another day or time work?")
            else:
                sentences.append(f"You're booked for {when}. {ANYTHING_ELSE}")
        elif transfer is not None and name == transfer.name:
            if failed:
                sentences.append("Sorry, I couldn't transfer you right now. " + ANYTHING_ELSE)
        elif end is not None and name == end.name:
            continue
        elif failed:
            sentences.append("Sorry, that didn't work. " + ANYTHING_ELSE)
        elif "cancel" in name.lower():
            sentences.append("That's cancelled. " + ANYTHING_ELSE)
        else:
            content = result.content.strip()
            short = content and len(content) <= 160 and not content.startswith(("{", "["))
            sentences.append(f"{content} {ANYTHING_ELSE}" if short else "Done. " + ANYTHING_ELSE)
    return Plan(" ".join(sentences))


def _hours_from_prompt(messages: Sequence[ChatMessage]) -> str | None:
    for message in messages:
        if message.role is not Role.SYSTEM:
            continue
        for sentence in re.split(r"(?<=[.!?])\s+|\n+", message.content):
            lower = sentence.lower()
            if ("hours" in lower or re.search(r"\bopen\b", lower)) and re.search(
                r"\d|\b(am|pm|noon)\b", lower
            ):
                return sentence.strip()
    return None
