"""The hello world: a speech-to-speech model (OpenAI Realtime) answers your number.

::

    pip install patter-core patter-twilio patter-openai
    export TWILIO_ACCOUNT_SID=AC... TWILIO_AUTH_TOKEN=... OPENAI_API_KEY=sk-...
    patter-core serve examples.engine_realtime:make_agent --webhook-url agent.example.com

then point the number's voice webhook at ``https://agent.example.com/webhooks/twilio/voice``
(``patter-core serve`` prints the exact URLs) and call it. ``python -m examples.engine_realtime`` does
the same from Python, reading ``PATTER_PHONE_NUMBER`` and ``PATTER_WEBHOOK_URL``.

Engine mode: one model hears the caller and speaks back; Patter streams the call's audio to it
(mu-law passes through untouched), handles barge-in, and gives it the ``end_call`` and
``transfer_call`` tools (transfers only to the destinations listed here).
"""

from __future__ import annotations

import asyncio
import os

from patter_core import Agent, Patter

__all__ = ["FIRST_MESSAGE", "SYSTEM_PROMPT", "main", "make_agent"]

SYSTEM_PROMPT = """You are the receptionist of Bella Hair Salon, on the phone.
Speak in short sentences. We are open Tuesday to Saturday, 9 AM to 6 PM.
When the caller wants a person, transfer them to the front desk. When they are done, say goodbye and end the call."""

FIRST_MESSAGE = "Hi, thanks for calling Bella Hair Salon. How can I help you today?"


def make_agent(phone: Patter) -> Agent:
    """The agent ``patter-core serve`` runs (``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` configure the engine)."""
    return phone.agent(
        system_prompt=SYSTEM_PROMPT,
        engine="openai-realtime",
        first_message=FIRST_MESSAGE,
        transfer_destinations={"front desk": "+15550100000"},
    )


async def main() -> None:
    phone = Patter(
        carrier="twilio",
        phone_number=os.environ["PATTER_PHONE_NUMBER"],
        webhook_url=os.environ["PATTER_WEBHOOK_URL"],
    )
    await phone.serve(make_agent(phone), port=int(os.environ.get("PORT", "8000")))


if __name__ == "__main__":
    asyncio.run(main())
