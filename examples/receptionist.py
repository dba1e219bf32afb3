"""A hair-salon receptionist in pipeline mode on the offline providers: it books appointments with a
tool, transfers to the front desk or the manager (and nowhere else), and never talks about discounts.

::

    pip install patter-core patter-local patter-twilio
    patter-core serve examples.receptionist:make_agent --webhook-url agent.example.com

No AI keys are needed: speech recognition (Whisper tiny.en), the brain (rules) and the voice (Piper)
run on this machine. For a real language model change one argument -- ``llm="openai"`` (``pip install
patter-openai``, ``OPENAI_API_KEY``) -- and keep everything else.
"""

from __future__ import annotations

import threading
from typing import Literal

import attrs

from patter_core import Agent, Patter, guardrail, tool

__all__ = [
    "CALENDAR",
    "FIRST_MESSAGE",
    "SYSTEM_PROMPT",
    "Booking",
    "Calendar",
    "book_appointment",
    "make_agent",
]

SYSTEM_PROMPT = """You are the receptionist of Bella Hair Salon. Our opening hours are 9 AM to 6 PM, Tuesday to Saturday.
Book appointments with the book_appointment tool. Be brief: this is a phone call."""

FIRST_MESSAGE = "Hi, thanks for calling Bella Hair Salon. How can I help you today?"

Service = Literal["haircut", "colour", "beard trim"]


@attrs.frozen
class Booking:
    day: str
    time: str
    service: str
    reference: str


class Calendar:
    """Stands in for your booking system (its API or your database); thread-safe because sync tools
    run in worker threads."""

    def __init__(self) -> None:
        self.bookings: list[Booking] = []
        self._lock = threading.Lock()

    def book(self, day: str, time: str, service: str) -> Booking:
        with self._lock:
            booking = Booking(day, time, service, reference=f"B{4200 + len(self.bookings)}")
            self.bookings.append(booking)
            return booking


CALENDAR = Calendar()


@tool(timeout=5)
def book_appointment(day: str, time: str, service: Service = "haircut") -> str:
    """Book an appointment at the salon.

    Args:
        day: The day of the appointment, e.g. "Tuesday".
        time: The time of the appointment, e.g. "15:00".
        service: What the appointment is for.
    """
    booking = CALENDAR.book(day, time, service)
    return f"Booked a {booking.service} on {booking.day} at {booking.time}. Reference {booking.reference}."


def make_agent(phone: Patter) -> Agent:
    """The agent ``patter-core serve`` runs."""
    return phone.agent(
        system_prompt=SYSTEM_PROMPT,
        stt="local",
        llm="local",
        tts="local",
        vad="local",
        tools=[book_appointment],
        guardrails=[
            guardrail(
                "no-discounts",
                blocked_terms=["discount", "coupon", "promo code"],
                replacement="Our front desk can help you with prices and offers.",
            )
        ],
        transfer_destinations={"front desk": "+15550100000", "manager": "+15550100001"},
        first_message=FIRST_MESSAGE,
    )
