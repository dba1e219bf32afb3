"""A dropped socket is reconnected once; then a drop ends the session with ProviderConnectionError."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from patter_openai.testing import FakeRealtimeServer, FakeReply, FakeToolCall

from patter_core.audio.format import MULAW_8K, PCM16_24K
from patter_core.errors import ProviderConnectionError
from patter_core.interfaces.engine import AgentAudio, CallerTranscript, ResponseDone, ToolCallRequested


def _without_event_id(event: dict) -> dict:
    return {k: v for k, v in event.items() if k != "event_id"}


async def test_drop_reconnects_once_and_restores_the_session(
    connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "patter.openai.realtime")
    async with FakeRealtimeServer(api_key="sk-test-key", pace=0) as fake:
        session, events = await connect(fake)
        fake.script(FakeReply(text="Your order ships today.", audio_ms=200))
        await fake.caller_turn("Where is my order?")
        await events.wait_for(ResponseDone)
        await fake.drop()
        await fake.wait_for_connections(2)
        await fake.wait_for("session.update", count=2)
        first, second = fake.events_of("session.update")
        assert _without_event_id(first) == _without_event_id(second)
        await session.say("Sorry, where were we?")
        await events.wait_for(ResponseDone, count=2)
        history = [e["item"] for e in fake.connections[1].events if e["type"] == "conversation.item.create"]
        assert history == [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Where is my order?"}],
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Your order ships today."}],
            },
        ]
        assert session.reconnects == 1 and events.error is None
        assert "reconnecting once" in caplog.text and "reconnected" in caplog.text
        assert fake.invalid_events == [] and not fake.errors_sent


async def test_drop_mid_response_reports_it_failed(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=1.0, chunk_ms=20) as fake:
        session, events = await connect(fake)
        await session.say("A sentence long enough to be cut by the network")
        [audio] = await events.wait_for(AgentAudio)
        await fake.drop()
        [done] = await events.wait_for(ResponseDone)
        assert done.status == "failed"
        await fake.wait_for_connections(2)
        await asyncio.sleep(0.05)
        await session.truncate(audio.item_id, 10)  # an item of the old connection: not sent
        await asyncio.sleep(0.05)
        assert fake.events_of("conversation.item.truncate") == []


async def test_second_drop_raises_within_bounded_time(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=0) as fake:
        session, events = await connect(fake)
        await fake.drop()
        await fake.wait_for_connections(2)
        await fake.wait_for("session.update", count=2)
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await fake.drop()
        error = await events.wait_ended(timeout=5)
        assert isinstance(error, ProviderConnectionError)
        assert "dropped again" in str(error) and error.code == "connection_lost"
        assert time.monotonic() - started < 5
        assert len(fake.connections) == 2
        await session.send_audio(b"\xff" * 160)  # after the failure: dropped quietly


async def test_refused_reconnect_raises(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=0) as fake:
        _, events = await connect(fake)
        fake.refuse_connections = True
        await fake.drop()
        error = await events.wait_ended(timeout=5)
        assert isinstance(error, ProviderConnectionError) and "HTTP 503" in str(error)


async def test_stalled_reconnect_raises_after_reconnect_timeout(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=0, stall=[None, "before_updated"]) as fake:
        _, events = await connect(fake, reconnect_timeout=0.3)
        await fake.drop()
        error = await events.wait_ended(timeout=3)
        assert isinstance(error, ProviderConnectionError) and "no answer within 0.3 s" in str(error)


async def test_drop_after_n_server_events(connect) -> None:
    # connection 0 dies right after its 3rd server event (created, updated, response.created)
    async with FakeRealtimeServer(api_key="sk-test-key", pace=0, drop_after=[3, None]) as fake:
        session, events = await connect(fake)
        await session.say("hello")
        [done] = await events.wait_for(ResponseDone)
        assert done.status == "failed"
        await fake.wait_for_connections(2)
        await session.say("hello again")
        done = await events.wait_for(ResponseDone, count=2)
        assert done[-1].status == "completed"


async def test_without_reconnect_a_drop_raises(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=0) as fake:
        _, events = await connect(fake, reconnect=False)
        await fake.drop()
        assert isinstance(await events.wait_ended(timeout=3), ProviderConnectionError)
        assert len(fake.connections) == 1


async def test_keepalive_detects_a_silent_peer(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=0, stall=["after_updated", None]) as fake:
        session, events = await connect(fake, keepalive_interval=0.1, keepalive_timeout=0.2)
        await fake.wait_for_connections(2, timeout=3)
        await session.say("back")
        await events.wait_for(ResponseDone)
        assert session.reconnects == 1


async def test_format_change_on_reconnect_is_handled(connect, make_config) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=0) as fake:
        session, events = await connect(fake, cfg=make_config(MULAW_8K))
        assert session.output_format == MULAW_8K
        fake.honour_pcmu = False
        await fake.drop()
        await fake.wait_for("session.update", count=2)
        await asyncio.sleep(0.05)
        assert (session.wire_input_format, session.wire_output_format) == (PCM16_24K, PCM16_24K)
        assert (session.input_format, session.output_format) == (MULAW_8K, MULAW_8K)  # unchanged for the core
        await session.say("in PCM now")
        await events.wait_for(ResponseDone)
        audio = events.of(AgentAudio)
        assert audio and all(a.format == PCM16_24K for a in audio)
        for _ in range(10):
            await session.send_audio(b"\xff" * 160)  # 200 ms of mu-law silence
        await asyncio.sleep(0.1)
        received = len(fake.connections[1].audio_in)
        assert received % 2 == 0 and abs(received - 200 * 48) <= 48 * 10  # ~200 ms of PCM 24 kHz


async def test_stale_tool_results_after_reconnect_are_not_sent(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=0) as fake:
        session, events = await connect(fake)
        fake.script(FakeReply(tool_calls=[FakeToolCall("lookup", "{}", "call_old")]))
        await fake.caller_turn("look it up")
        [call] = await events.wait_for(ToolCallRequested)
        await fake.drop()
        await fake.wait_for("session.update", count=2)
        await asyncio.sleep(0.05)
        await session.send_tool_result(call.call_id, "result")
        await asyncio.sleep(0.05)
        assert fake.events_of("conversation.item.create") == [
            e for e in fake.connections[1].events if e["type"] == "conversation.item.create"
        ]
        assert not any(
            e["item"]["type"] == "function_call_output" for e in fake.events_of("conversation.item.create")
        )
        assert events.of(CallerTranscript)


async def test_say_during_the_drop_is_spoken_after_reconnecting(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=0) as fake:
        session, events = await connect(fake)
        await fake.drop()
        await session.say("Sorry about that")  # the socket is dead or reconnecting: never lost
        await fake.wait_for_connections(2)
        [done] = await events.wait_for(ResponseDone)
        assert done.status == "completed"
        creates = [e for e in fake.connections[1].events if e["type"] == "response.create"]
        assert len(creates) == 1 and "Sorry about that" in creates[0]["response"]["instructions"]
