"""Your own code instead of a language model: an order-status line.

``on_message`` receives each finished caller turn (``turn.text``, ``turn.dtmf`` when keys were
pressed, ``turn.caller``, ``turn.history``) and returns the reply: a string, or -- as here -- an
async iterator of text, so the first sentence is being spoken while the order is still being looked
up. Speech recognition and the voice are the offline providers; swap them for ``stt="deepgram"``,
``tts="elevenlabs"`` and nothing else changes.

::

    patter-core serve examples.on_message_bot:make_agent --webhook-url agent.example.com
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from patter_core import Agent, CallerTurn, Patter

__all__ = ["FIRST_MESSAGE", "ORDERS", "find_order_number", "look_up", "make_agent", "on_message"]

FIRST_MESSAGE = "Acme orders. What is your order number?"

ORDERS = {
    "1234": "shipped yesterday and arrives on Thursday",
    "5678": "is being packed and ships tomorrow",
}

_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}


def find_order_number(text: str) -> str | None:
    """Four digits said as digits ("1234", "1, 2, 3, 4") or as words ("one two three four")."""
    run = ""
    for token in re.findall(r"[a-z]+|\d+", text.lower()):
        digits = _WORDS.get(token) or (token if token.isdigit() else None)
        if digits is None:
            if len(run) >= 4:
                break
            run = ""
        else:
            run += digits
    return run[:4] if len(run) >= 4 else None


async def look_up(order: str) -> str | None:
    """Stands in for your order system (an HTTP call, a database query)."""
    await asyncio.sleep(0.05)
    return ORDERS.get(order)


async def on_message(turn: CallerTurn) -> AsyncIterator[str]:
    order = find_order_number(turn.dtmf or turn.text)
    if order is None:
        yield "Sorry, I didn't catch a four digit order number. Could you say it again?"
        return
    yield f"Let me check order {' '.join(order)}."  # spoken while the lookup runs
    status = await look_up(order)
    if status is None:
        yield "I can't find that order. Please check the number on your confirmation email."
    else:
        yield f"Your order {status}. Is there anything else?"


def make_agent(phone: Patter) -> Agent:
    """The agent ``patter-core serve`` runs: pipeline mode with ``on_message`` in place of an LLM."""
    return phone.agent(
        stt="local", tts="local", vad="local", on_message=on_message, first_message=FIRST_MESSAGE
    )
