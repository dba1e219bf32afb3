"""What a dropped socket cut off is said again after the one reconnect (no silent agent)."""

from __future__ import annotations

from patter_openai.testing import FakeRealtimeServer, FakeReply

from patter_core.interfaces.engine import AgentAudio, ResponseDone


async def test_a_say_cut_by_a_drop_is_spoken_again(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=4.0, chunk_ms=20) as fake:
        session, events = await connect(fake)
        await session.say("Thanks for calling Acme, how can I help?")
        await events.wait_for(AgentAudio)
        await fake.drop()
        done = await events.wait_for(ResponseDone, count=2, timeout=10)
        assert [d.status for d in done] == ["failed", "completed"]
        creates = [e for e in fake.connections[1].events if e["type"] == "response.create"]
        assert len(creates) == 1 and "Thanks for calling Acme" in creates[0]["response"]["instructions"]


async def test_a_model_reply_cut_by_a_drop_is_regenerated(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=4.0, chunk_ms=20) as fake:
        session, events = await connect(fake)
        fake.script(
            FakeReply(text="Your order ships today.", audio_ms=2000), FakeReply(text="It ships today.")
        )
        await fake.caller_turn("Where is my order?")
        await events.wait_for(AgentAudio)
        await fake.drop()
        done = await events.wait_for(ResponseDone, count=2, timeout=10)
        assert [d.status for d in done] == ["failed", "completed"]
        creates = [e for e in fake.connections[1].events if e["type"] == "response.create"]
        assert creates == [
            {"type": "response.create", "event_id": creates[0]["event_id"]}
        ]  # a plain regenerate
        assert session.reconnects == 1 and fake.invalid_events == []
