"""Calls through the core's session against the fakes (smoke tests).

The full matrix (Twilio simulator, Deepgram, barge-in timing) lives in the repository's end-to-end
tests; these prove the providers and the session agree on formats, item ids and tool results.
"""

from __future__ import annotations

from patter_elevenlabs import ElevenLabsConvAI, ElevenLabsTTS
from patter_elevenlabs.testing import (
    FakeConvAIServer,
    FakeElevenLabsTTSServer,
    Interrupt,
    Sleep,
    Speak,
    ToolCall,
    UserTranscript,
    WaitForUserAudio,
    tone,
)

from patter_core.agent import Agent
from patter_core.audio.format import MULAW_8K
from patter_core.testing import FakeChannel, FakeSTT, start_call, voice


async def test_convai_engine_call() -> None:
    script = [
        Speak(ms=300, text="Hello, Acme here."),
        WaitForUserAudio(ms=200),
        UserTranscript("I need help"),
        Speak(ms=1000, text="Sure, let me look that up for you now.", wait=False),
        Sleep(0.3),
        Interrupt(),
        ToolCall("lookup", {"q": 1}),
        Sleep(5),
    ]
    async with FakeConvAIServer(script=script, speed=1.0) as fake:
        engine = ElevenLabsConvAI(agent_id=fake.agent_id, api_key=fake.api_key, base_url=fake.base_url)
        channel = FakeChannel(format=MULAW_8K)
        call = start_call(
            Agent(system_prompt="Be brief.", engine=engine, first_message="Hello, Acme here."), channel
        )
        await channel.wait_for(lambda: channel.played_ms >= 250)
        caller = voice(300, MULAW_8K)
        await channel.speak(caller)
        await channel.wait_for(lambda: bool(fake.connections and fake.last.tool_results))
        channel.hang_up()
        record = await call.finish(10)

    assert bytes(channel.played[:2400]) == tone(MULAW_8K, 300)  # agent audio passed through untouched
    assert bytes(fake.last.audio) == caller  # and so did the caller's
    texts = [(t.role, t.text, t.interrupted) for t in record.transcript]
    assert texts[:2] == [("agent", "Hello, Acme here.", False), ("caller", "I need help", False)]
    assert texts[2][0] == "agent" and texts[2][2]  # the interrupted turn is cut to what was heard
    assert fake.last.tool_results[0]["is_error"] is True  # 'lookup' is not a tool of this agent


async def test_pipeline_reply_is_synthesised_in_the_carriers_format() -> None:
    async def on_message(turn: object) -> str:
        return "We are open nine to five."

    async with FakeElevenLabsTTSServer(speed=4.0) as fake:
        tts = ElevenLabsTTS(voice_id="voice1", api_key=fake.api_key, base_url=fake.base_url)
        stt = FakeSTT(["what are your hours"], input_formats=(MULAW_8K,))
        channel = FakeChannel(format=MULAW_8K)
        call = start_call(Agent(stt=stt, tts=tts), channel, on_message=on_message)
        await channel.speak(voice(400, MULAW_8K) + bytes([0xFF]) * 8000, realtime=True)
        expected = fake.render("We are open nine to five.", MULAW_8K)
        await channel.wait_for(lambda: channel.played_ms >= MULAW_8K.duration_ms(len(expected)), timeout=8)
        channel.hang_up()
        await call.finish(10)

    assert fake.texts == ["We are open nine to five."]
    assert fake.connections[0].query["output_format"] == "ulaw_8000"
    assert bytes(channel.played[: len(expected)]) == expected  # no transcoding on the way
