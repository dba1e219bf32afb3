"""Pipeline mode on hosted providers: Deepgram hears, an OpenAI model thinks (and calls a tool),
ElevenLabs speaks -- each stage streaming into the next, so the first sentence is on the phone line
while the model is still writing the second.

::

    pip install patter-core patter-twilio patter-deepgram patter-openai patter-elevenlabs
    export DEEPGRAM_API_KEY=... OPENAI_API_KEY=sk-... ELEVENLABS_API_KEY=...
    export ELEVENLABS_VOICE_ID=21m00Tcm4TlvDq8ikWAM      # any voice of your ElevenLabs account
    patter-core serve examples.cloud_pipeline:make_agent --webhook-url agent.example.com

Formats are negotiated, not configured: Deepgram receives the carrier's mu-law untouched and
ElevenLabs produces ``ulaw_8000`` for it, so nothing is transcoded on a Twilio call.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from patter_deepgram import DeepgramSTT
from patter_elevenlabs import ElevenLabsTTS
from patter_openai import OpenAILLM

from patter_core import Agent, Patter, tool

__all__ = ["FIRST_MESSAGE", "SYSTEM_PROMPT", "make_agent", "opening_hours"]

SYSTEM_PROMPT = """You are the receptionist of Bella Hair Salon, on the phone. Answer in one or two short sentences.
Use the opening_hours tool for questions about when we are open."""

FIRST_MESSAGE = "Hi, thanks for calling Bella Hair Salon. How can I help you today?"

_CLOSED = {"sunday", "monday"}

Day = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


@tool
async def opening_hours(day: Day) -> str:
    """Opening hours of the salon on one day of the week.

    Args:
        day: The day of the week, in lower case.
    """
    if day in _CLOSED:
        return f"Closed on {day.capitalize()}."
    return f"Open on {day.capitalize()} from 9 AM to 6 PM."


def make_agent(phone: Patter, *, base_urls: Mapping[str, str] | None = None) -> Agent:
    """The agent ``patter-core serve`` runs. ``base_urls`` (``deepgram``, ``openai``, ``elevenlabs``)
    points providers at a proxy, a regional endpoint -- or, in the tests, at local fakes."""
    urls = dict(base_urls or {})
    return phone.agent(
        system_prompt=SYSTEM_PROMPT,
        stt=DeepgramSTT(model="nova-3", keyterms=["Bella"], base_url=urls.get("deepgram")),
        llm=OpenAILLM(model="gpt-4o-mini", temperature=0.3, base_url=urls.get("openai")),
        tts=ElevenLabsTTS(
            voice_id=os.environ.get("ELEVENLABS_VOICE_ID", "21m00Tcm4TlvDq8ikWAM"),
            model_id="eleven_flash_v2_5",
            base_url=urls.get("elevenlabs"),
        ),
        tools=[opening_hours],
        first_message=FIRST_MESSAGE,
    )
