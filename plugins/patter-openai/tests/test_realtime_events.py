"""Server events -> engine events: audio, transcripts, caller speech, responses, errors, junk."""

from __future__ import annotations

import base64
import logging

import pytest
from patter_openai.testing import FakeRealtimeServer, FakeReply

from patter_core.audio.format import MULAW_8K
from patter_core.interfaces.engine import (
    AgentAudio,
    AgentTranscript,
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerTranscript,
    EngineError,
    ResponseDone,
    ResponseStarted,
)


async def test_audio_deltas_become_agent_audio(fake_rt: FakeRealtimeServer, connect, make_config) -> None:
    _, events = await connect(fake_rt, cfg=make_config(first_message="Hello, thanks for calling!"))
    [done] = await events.wait_for(ResponseDone)
    assert done.status == "completed"
    [started] = events.of(ResponseStarted)
    assert started.response_id == done.response_id
    sent = [e for i, e in fake_rt.server_events if e["type"] == "response.output_audio.delta"]
    audio = events.of(AgentAudio)
    assert [a.data for a in audio] == [base64.b64decode(e["delta"]) for e in sent]
    assert {a.item_id for a in audio} == {sent[0]["item_id"]} and all(a.format is None for a in audio)
    # mu-law: 8 bytes per ms; 100 ms chunks
    assert len(audio[0].data) == 800
    transcript = events.of(AgentTranscript)
    assert "".join(t.text for t in transcript if not t.final) == "Hello, thanks for calling!"
    assert transcript[-1] == AgentTranscript(
        "Hello, thanks for calling!", item_id=sent[0]["item_id"], final=True
    )
    # the order of the core's events follows the wire
    kinds = [type(e) for e in events.events]
    assert kinds[0] is ResponseStarted and kinds[-1] is ResponseDone
    assert fake_rt.invalid_events == []


async def test_first_message_is_requested_verbatim(fake_rt: FakeRealtimeServer, connect, make_config) -> None:
    await connect(fake_rt, cfg=make_config(first_message='Hi, I\'m "Ava" from Acme.'))
    [create] = await fake_rt.wait_for("response.create")
    instructions = create["response"]["instructions"]
    assert "word for word" in instructions and "Hi, I'm 'Ava' from Acme." in instructions
    updated_at = next(i for i, (_, e) in enumerate(fake_rt.server_events) if e["type"] == "session.updated")
    assert updated_at == 1  # session.updated came before the greeting was asked for


async def test_caller_speech_and_transcripts(fake_rt: FakeRealtimeServer, connect) -> None:
    _, events = await connect(fake_rt)
    fake_rt.script(FakeReply(text="Sure.", audio_ms=100))
    await fake_rt.caller_turn("I need help with my order")
    await events.wait_for(ResponseDone)
    [started] = events.of(CallerSpeechStarted)
    [stopped] = events.of(CallerSpeechStopped)
    [heard] = events.of(CallerTranscript)
    assert started.item_id == stopped.item_id == heard.item_id is not None
    assert heard == CallerTranscript("I need help with my order", final=True, item_id=started.item_id)
    kinds = [type(e) for e in events.events]
    assert kinds.index(CallerSpeechStarted) < kinds.index(CallerSpeechStopped) < kinds.index(ResponseStarted)


async def test_server_vad_interrupt_ends_response_cancelled(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=1.0, chunk_ms=20) as fake:
        fake.script(FakeReply(text="A long answer", audio_ms=3000))
        session, events = await connect(fake)
        await session.say("A long answer")
        await events.wait_for(AgentAudio, count=2)
        await fake.speech_started()
        [done] = await events.wait_for(ResponseDone)
        assert done.status == "cancelled"
        assert events.of(CallerSpeechStarted)
        assert len(events.of(AgentAudio)) < 3000 // 20


async def test_error_events_are_surfaced_not_fatal(
    fake_rt: FakeRealtimeServer, connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "patter.openai.realtime")
    session, events = await connect(fake_rt)
    await fake_rt.send_error("rate_limit_exceeded", "Slow down")
    await fake_rt.send_error("response_cancel_not_active", "Cancellation failed: no active response found.")
    errors = await events.wait_for(EngineError, count=2)
    assert errors == [
        EngineError("Slow down", code="rate_limit_exceeded", fatal=False),
        EngineError(
            "Cancellation failed: no active response found.", code="response_cancel_not_active", fatal=False
        ),
    ]
    assert "rate_limit_exceeded" in caplog.text and "harmless" in caplog.text
    await session.say("Still here")  # the session carries on
    await events.wait_for(ResponseDone)


async def test_malformed_and_unknown_events_are_dropped(
    fake_rt: FakeRealtimeServer, connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "patter.openai.realtime")
    session, events = await connect(fake_rt)
    await fake_rt.send_raw("this is not json")
    await fake_rt.send_raw(b"\x00\x01binary")
    await fake_rt.send_raw('["a", "list"]')
    await fake_rt.send_raw('{"no_type": 1}')
    await fake_rt.send(
        {"type": "response.output_audio.delta", "item_id": "item_x", "delta": "%%% not base64"}
    )
    await fake_rt.send({"type": "response.output_audio.delta", "delta": "AAAA"})  # no item_id
    await fake_rt.send({"type": "response.done", "response": "oops"})
    await fake_rt.send({"type": "error", "error": None})
    await fake_rt.send({"type": "response.audio.delta", "item_id": "i", "delta": "AAAA"})  # beta name
    await fake_rt.send({"type": "some.future.event", "x": 1})
    await session.say("After the junk")
    await events.wait_for(ResponseDone)
    assert not events.of(EngineError) and events.error is None
    assert all(a.item_id != "item_x" for a in events.of(AgentAudio))
    for needle in (
        "not JSON",
        "binary frame",
        "without a type",
        "malformed Realtime event response.output_audio.delta",
        "malformed Realtime event response.done",
        "malformed Realtime event error",
        "ignoring Realtime event response.audio.delta",
        "ignoring Realtime event some.future.event",
    ):
        assert needle in caplog.text, needle


async def test_cancel_response_only_when_active(fake_rt: FakeRealtimeServer, connect) -> None:
    session, events = await connect(fake_rt)
    await session.cancel_response()  # nothing active: nothing sent
    fake_rt.pace = 1.0
    await session.say("Something to cancel, spoken slowly enough")
    await events.wait_for(AgentAudio)
    await session.cancel_response()
    [done] = await events.wait_for(ResponseDone)
    assert done.status == "cancelled"
    assert len(fake_rt.events_of("response.cancel")) == 1
    assert not events.of(EngineError)


async def test_aclose_ends_events_and_is_idempotent(
    fake_rt: FakeRealtimeServer, make_engine, make_config
) -> None:
    session = await make_engine(fake_rt).connect(make_config(MULAW_8K))
    await session.aclose()
    await session.aclose()
    assert [e async for e in session.events()] == []
    await session.send_audio(b"\xff" * 160)  # after close: dropped quietly
    await fake_rt.connection.closed.wait()
