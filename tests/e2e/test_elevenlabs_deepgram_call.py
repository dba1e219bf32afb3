"""ElevenLabs ConvAI and a Deepgram + ElevenLabs TTS pipeline, end to end over the Twilio simulator on
the real server, against the vendors' fakes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from patter_core.audio import MULAW_8K, EnergyVAD
from patter_core.phone import Patter
from patter_core.registry import Registry
from patter_core.session.record import CallRecord
from patter_core.testing import SimulatedCaller, load_simulator, voice

pytest.importorskip("patter_twilio")
pytest.importorskip("patter_elevenlabs")
pytest.importorskip("patter_deepgram")
from patter_deepgram import DeepgramSTT
from patter_deepgram.testing import FakeDeepgramServer, Utterance
from patter_elevenlabs import ElevenLabsConvAI, ElevenLabsTTS
from patter_elevenlabs.testing import (
    FakeConvAIServer,
    FakeElevenLabsTTSServer,
    Interrupt,
    Ping,
    Sleep,
    Speak,
    ToolCall,
    UserTranscript,
    WaitForUserAudio,
)


class Served:
    def __init__(
        self, phone: Patter, caller: SimulatedCaller, records: list[CallRecord], task: asyncio.Task[None]
    ):
        self.phone, self.caller, self.records, self.task = phone, caller, records, task

    async def finish(self) -> CallRecord:
        for _ in range(300):
            if self.records:
                break
            await asyncio.sleep(0.05)
        await self.caller.close()
        await self.phone.stop()
        await asyncio.wait_for(self.task, 20)
        return self.records[0]


async def _serve_twilio(simulator: Any, agent_options: dict[str, Any], **serve: Any) -> Served:
    registry = Registry.build(env={"PATTER_PLUGINS": "patter-twilio"})
    phone = Patter(
        carrier=simulator.carrier,
        phone_number="+15550002222",
        webhook_url=simulator.webhook_host,
        registry=registry,
    )
    records: list[CallRecord] = []
    task = asyncio.create_task(
        phone.serve(
            phone.agent(**agent_options), host="127.0.0.1", port=0, on_call_end=records.append, **serve
        )
    )
    await phone.wait_ready()
    caller = await simulator.call(f"http://127.0.0.1:{phone.port}")
    return Served(phone, caller, records, task)


def _twilio_simulator() -> Any:
    _, simulator_class = load_simulator(Registry.build(env={"PATTER_PLUGINS": "patter-twilio"}), "twilio")
    return simulator_class(webhook_host="agent.example.test")


async def test_convai_call_over_twilio() -> None:
    script = [
        Speak(ms=400, text="Hello, Acme support here."),
        WaitForUserAudio(ms=300),
        Ping(ping_ms=20),
        UserTranscript("I need to end this call"),
        Speak(ms=2000, text="Sure, I can help you with that right away, one moment.", wait=False),
        Sleep(0.5),
        Interrupt(),
        Sleep(0.2),
        ToolCall("end_call", {"reason": "caller asked"}),
        Sleep(5),
    ]
    async with FakeConvAIServer(script=script) as fake, _twilio_simulator() as simulator:
        engine = ElevenLabsConvAI(agent_id=fake.agent_id, api_key=fake.api_key, base_url=fake.base_url)
        served = await _serve_twilio(
            simulator, {"engine": engine, "first_message": "Hello, Acme support here."}
        )
        caller = served.caller
        await caller.wait_for(lambda: caller.heard_ms >= 300)
        speech = voice(400, MULAW_8K)
        await caller.say(speech)
        await asyncio.wait_for(caller.closed.wait(), 20)  # end_call hung up through Twilio's REST API
        record = await served.finish()
        connection = fake.last
    assert set(caller.frame_sizes) == {160}
    assert speech in bytes(connection.audio)  # mu-law passthrough, caller to agent
    assert connection.pongs and not connection.missed_pong
    assert caller.clears >= 1  # the interruption cleared Twilio's buffer
    assert [e.data["name"] for e in record.events_of("tool_call")] == ["end_call"]
    assert record.end_reason == "agent hung up: caller asked"
    assert ("caller", "I need to end this call") in [(t.role, t.text) for t in record.transcript]


async def test_deepgram_elevenlabs_pipeline_over_twilio() -> None:
    turns: list[str] = []

    async def on_message(turn: Any) -> str:
        turns.append(turn.text)
        if len(turns) == 1:
            return "We are open from nine in the morning to five in the evening. We are closed on Sundays."
        return "Goodbye."

    # each utterance's final transcript comes when the session's VAD asks Deepgram to Finalize
    script = [
        Utterance("what are your hours", wait_for_finalize=True),
        Utterance("stop thank you", at_ms=2000, wait_for_finalize=True),
    ]
    async with (
        FakeDeepgramServer(script=script, drop_after_ms=2500) as deepgram,
        FakeElevenLabsTTSServer(speed=1.0, ms_per_char=40) as eleven,
        _twilio_simulator() as simulator,
    ):
        agent = {
            "stt": DeepgramSTT(api_key=deepgram.api_key, base_url=deepgram.base_url),
            "tts": ElevenLabsTTS(voice_id="voice1", api_key=eleven.api_key, base_url=eleven.base_url),
            "vad": EnergyVAD(),
        }
        served = await _serve_twilio(simulator, agent, on_message=on_message)
        caller = served.caller
        await asyncio.sleep(0.3)
        await caller.say(voice(700, MULAW_8K))
        await caller.wait_for(lambda: caller.heard_ms >= 1200, timeout=15)  # the reply is playing
        await caller.say(voice(600, MULAW_8K))  # the caller talks over it: barge-in
        await caller.wait_for(lambda: caller.clears >= 1, timeout=10)
        await caller.wait_for(lambda: len(turns) == 2, timeout=15)
        await caller.hang_up()
        record = await served.finish()
    assert turns == ["what are your hours", "stop thank you"]  # each final transcript reached on_message once
    assert len(deepgram.connections) >= 2  # the dropped Deepgram socket was replaced, the call went on
    assert deepgram.connections[0].param("encoding") == "mulaw"  # the carrier's bytes, no conversion
    assert all(c.query["output_format"] == "ulaw_8000" for c in eleven.connections)  # no transcoding out
    ready = record.events_of("pipeline_ready")[0].data
    assert ready["stt_passthrough"] and ready["tts_passthrough"]
    assert any(not c.sent_final for c in eleven.connections if c.texts)  # a sentence was cut by the barge-in
    assert set(caller.frame_sizes) == {160}
