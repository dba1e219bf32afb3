"""Pipeline mode on the OpenAI providers (Whisper STT, Chat Completions LLM, TTS) against the SSE /
HTTP fakes, over a carrier simulator on the real server."""

from __future__ import annotations

import asyncio

import pytest

from patter_core.audio import MULAW_8K, EnergyVAD
from patter_core.hookspecs import hookimpl
from patter_core.phone import Patter
from patter_core.plugins import make_plugin_manager
from patter_core.registry import Registry
from patter_core.session.record import CallRecord
from patter_core.testing import FakeCarrier, FakeCarrierSimulator, voice
from patter_core.tools import tool

pytest.importorskip("patter_openai")
from patter_openai import OpenAILLM, OpenAITTS, WhisperSTT
from patter_openai.testing import ChatScript, FakeOpenAIHTTP, FakeToolCall


class SimulatedFakeCarrier:
    @hookimpl
    def register_carriers(self, register):
        register(FakeCarrier, name="fake", simulator=FakeCarrierSimulator)


@tool
def book(day: str) -> str:
    """Book a slot.

    Args:
        day: The day.
    """
    return f"booked {day}"


async def test_pipeline_turn_with_a_tool_on_the_openai_providers() -> None:
    registry = Registry(make_plugin_manager(extra_plugins=[("sim", SimulatedFakeCarrier())]))
    async with FakeOpenAIHTTP(transcripts=["book me on tuesday"]) as fake:
        fake.script_chat(
            ChatScript(text="Sure.", tool_calls=[FakeToolCall("book", '{"day": "Tuesday"}')]),
            ChatScript(
                text="You're booked for Tuesday. Goodbye!", tool_calls=[FakeToolCall("end_call", "{}")]
            ),
        )
        async with FakeCarrierSimulator(webhook_host="agent.example.test") as simulator:
            phone = Patter(carrier=simulator.carrier, webhook_url=simulator.webhook_host, registry=registry)
            agent = phone.agent(
                system_prompt="You book slots.",
                stt=WhisperSTT(api_key="sk-test", base_url=fake.base_url),
                llm=OpenAILLM(api_key="sk-test", base_url=fake.base_url),
                tts=OpenAITTS(api_key="sk-test", base_url=fake.base_url),
                vad=EnergyVAD(),
                tools=[book],
            )
            records: list[CallRecord] = []
            serving = asyncio.create_task(
                phone.serve(agent, host="127.0.0.1", port=0, on_call_end=records.append)
            )
            await phone.wait_ready()
            caller = await simulator.call(f"http://127.0.0.1:{phone.port}")
            try:
                await caller.say(voice(900, MULAW_8K))  # speech, then the line's silence ends the turn
                await asyncio.wait_for(caller.closed.wait(), 20)  # the agent books, says goodbye, hangs up
            finally:
                await caller.close()
                await phone.stop()
                await asyncio.wait_for(serving, 20)
    record = records[0]
    assert record.text_of("caller") == ["book me on tuesday"]
    assert [e.data["name"] for e in record.events_of("tool_call")] == ["book", "end_call"]
    assert record.end_reason.startswith("agent hung up")
    upload = fake.uploads[0]
    assert upload.sample_rate == 16000 and upload.channels == 1  # one high-quality resample of the utterance
    assert caller.heard_ms >= 1000 and set(caller.frame_sizes) == {160}
    chat = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    second = chat[1].json()["messages"]
    assert second[-1] == {
        "role": "tool",
        "tool_call_id": second[-2]["tool_calls"][0]["id"],
        "content": "booked Tuesday",
    }
