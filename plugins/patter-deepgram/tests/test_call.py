"""A pipeline call through the core's session with DeepgramSTT against the fake (smoke test).

The full matrix (Twilio simulator, ElevenLabs TTS, barge-in) lives in the repository's end-to-end
tests; this one proves the provider and the session agree: mu-law passes through untouched, the fake's
final transcript reaches ``on_message`` exactly once (despite the speech_final twin and UtteranceEnd),
and a dropped Deepgram socket does not end the call.
"""

from __future__ import annotations

import asyncio

from patter_deepgram import DeepgramSTT
from patter_deepgram.testing import FakeDeepgramServer, Utterance

from patter_core.agent import Agent
from patter_core.audio.format import MULAW_8K
from patter_core.testing import FakeChannel, FakeTTS, silence, start_call, voice


async def test_turns_reach_on_message_once_each_across_a_drop() -> None:
    script = [
        # each after the caller's voice ended and the session's VAD hangover (500 ms) passed
        Utterance("what are your hours", at_ms=1200, final_pieces=2, empty_twin=True),
        Utterance("thank you", at_ms=2400),
    ]
    heard: list[str] = []

    async def on_message(turn: object) -> str:
        heard.append(turn["text"] if isinstance(turn, dict) else turn.text)  # type: ignore[attr-defined]
        return "We are open nine to five."

    async with FakeDeepgramServer(script=script, drop_after_ms=1000) as fake:
        stt = DeepgramSTT(api_key=fake.api_key, base_url=fake.base_url)
        tts = FakeTTS(ms_per_word=20)
        channel = FakeChannel(format=MULAW_8K)
        call = start_call(Agent(stt=stt, tts=tts), channel, on_message=on_message)
        spoken = voice(600, MULAW_8K) + silence(900, MULAW_8K)
        await channel.speak(spoken, realtime=True)
        await channel.wait_for(lambda: len(heard) == 1)
        await channel.wait_for(
            lambda: channel.played_ms > 0 and channel.queued_ms == 0
        )  # reply heard in full
        await channel.speak(voice(400, MULAW_8K) + silence(900, MULAW_8K), realtime=True)
        await channel.wait_for(lambda: len(heard) == 2)
        await asyncio.sleep(0.2)
        channel.hang_up()
        await call.finish(10)

    assert heard == ["what are your hours", "thank you"]
    first = fake.connections[0]
    assert first.param("encoding") == "mulaw" and first.param("sample_rate") == "8000"
    assert len(first.audio) > 1600 and bytes(first.audio) in spoken  # the carrier's bytes, untouched
    assert len(fake.connections) == 2 and tts.texts.count("We are open nine to five.") == 2
