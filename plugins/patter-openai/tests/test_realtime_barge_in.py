"""Barge-in bookkeeping: truncation never past the audio received, never for unknown items."""

from __future__ import annotations

import asyncio

from patter_openai.testing import FakeRealtimeServer, FakeReply

from patter_core.audio.format import MULAW_8K, PCM16_24K
from patter_core.interfaces.engine import AgentAudio, CallerSpeechStarted, EngineError, ResponseDone


async def _spoken_item(fake: FakeRealtimeServer, session, events, ms: float) -> str:
    fake.script(FakeReply(text="An answer", audio_ms=ms))
    await fake.caller_turn("question")
    await events.wait_for(ResponseDone)
    return events.of(AgentAudio)[-1].item_id


async def test_truncate_is_clamped_to_the_audio_received(fake_rt: FakeRealtimeServer, connect) -> None:
    session, events = await connect(fake_rt)
    item = await _spoken_item(fake_rt, session, events, 1000)
    assert sum(len(a.data) for a in events.of(AgentAudio)) == 8000  # 1000 ms of mu-law
    await session.truncate(item, 5000)
    await session.truncate(item, 600)
    await session.truncate(item, 900)  # the item is 600 ms long now
    await session.truncate(item, -5)
    await fake_rt.wait_for("conversation.item.truncate", count=4)
    sent = [e["audio_end_ms"] for e in fake_rt.events_of("conversation.item.truncate")]
    assert sent == [1000, 600, 600, 0]
    await asyncio.sleep(0.05)
    assert fake_rt.truncations == [(item, 1000), (item, 600), (item, 600), (item, 0)]
    assert not events.of(EngineError) and fake_rt.invalid_events == []


async def test_truncate_limit_follows_the_negotiated_format(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=0, honour_pcmu=False) as fake:
        session, events = await connect(fake)
        assert session.output_format == PCM16_24K
        item = await _spoken_item(fake, session, events, 700)
        assert sum(len(a.data) for a in events.of(AgentAudio)) == 700 * 48
        await session.truncate(item, 10_000)
        [truncate] = await fake.wait_for("conversation.item.truncate")
        assert truncate["audio_end_ms"] == 700


async def test_unknown_items_are_never_truncated(fake_rt: FakeRealtimeServer, connect) -> None:
    session, events = await connect(fake_rt)
    await session.truncate("item_never_seen", 100)
    await _spoken_item(fake_rt, session, events, 300)
    await session.truncate("item_never_seen", 100)
    await asyncio.sleep(0.05)
    assert fake_rt.events_of("conversation.item.truncate") == []


async def test_barge_in_mid_response(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=1.0, chunk_ms=20) as fake:
        session, events = await connect(fake)
        await session.say("This is a long greeting that the caller will interrupt")
        await events.wait_for(AgentAudio, count=5)
        await fake.speech_started()
        await events.wait_for(CallerSpeechStarted)
        item = events.of(AgentAudio)[0].item_id
        # the session heard 60 ms; 100 ms were delivered: it asks for 60
        await session.truncate(item, 60)
        [done] = await events.wait_for(ResponseDone)
        assert done.status == "cancelled"
        [truncate] = await fake.wait_for("conversation.item.truncate")
        assert truncate == {
            "type": "conversation.item.truncate",
            "item_id": item,
            "content_index": 0,
            "audio_end_ms": 60,
            "event_id": truncate["event_id"],
        }
        await asyncio.sleep(0.05)
        assert fake.truncations == [(item, 60)] and not fake.errors_sent


async def test_say_while_speaking_waits_its_turn(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=1.0, chunk_ms=20) as fake:
        session, events = await connect(fake)
        await session.say("First sentence")
        await session.say("Second sentence")
        done = await events.wait_for(ResponseDone, count=2)
        assert [d.status for d in done] == ["completed", "completed"]
        creates = fake.events_of("response.create")
        assert ["First" in c["response"]["instructions"] for c in creates] == [True, False]
        assert not fake.errors_sent


async def test_cancel_drops_queued_says(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=1.0, chunk_ms=20) as fake:
        session, events = await connect(fake, cfg=None)
        await session.say("Speaking now, for a little while")
        await session.say("Never said")
        await events.wait_for(AgentAudio)
        await session.cancel_response()
        await events.wait_for(ResponseDone)
        await asyncio.sleep(0.1)
        assert len(fake.events_of("response.create")) == 1


async def test_caller_audio_reaches_the_fake_in_the_declared_format(connect, make_config) -> None:
    async with FakeRealtimeServer(
        api_key="sk-test-key", pace=0, speech_detection=True, caller_transcripts=["hello there"]
    ) as fake:
        session, events = await connect(fake, cfg=make_config(MULAW_8K))
        from patter_openai.testing.audio import encode, tone_pcm16

        speech = encode(tone_pcm16(400, 8000, amplitude=0.5), "audio/pcmu")
        silence = b"\xff" * 160
        for i in range(0, len(speech), 160):
            await session.send_audio(speech[i : i + 160])
        for _ in range(30):
            await session.send_audio(silence)
        await events.wait_for(ResponseDone)
        assert events.of(CallerSpeechStarted)
        assert bytes(fake.connection.audio_in) == speech + silence * 30
        assert fake.connection.session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
