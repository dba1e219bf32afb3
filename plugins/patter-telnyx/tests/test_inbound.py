"""Inbound calls end to end: signed webhooks -> answer -> streaming_start -> media -> the agent."""

from __future__ import annotations

import asyncio

import numpy as np
from patter_telnyx.paths import encode_call_id
from patter_telnyx.rest import decode_client_state
from patter_telnyx.testing import TelnyxSimulator

from patter_core.audio import L16_16K, MULAW_8K, PCM16_16K
from patter_core.interfaces.carrier import CallOutcome
from patter_core.testing import FakeEngine, voice

from .conftest import ServeFactory, until


def swap16(data: bytes) -> bytes:
    return np.frombuffer(data, dtype=">i2").astype("<i2").tobytes()


async def test_l16_call_reaches_a_16k_engine_by_byte_swap_only(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    engine = FakeEngine(input_formats=(PCM16_16K,), output_formats=(PCM16_16K,))
    served = await serve(engine=engine)
    call = await sim.incoming_call(from_="+15551230000", to="+15559870000")
    caller = await call.wait_media()
    cid = call.call_control_id

    (answer,) = sim.api.commands("answer", cid)
    assert set(answer.body) == {"client_state", "command_id"}
    assert decode_client_state(answer.body["client_state"]) == {"d": "in"}
    (start,) = sim.api.commands("streaming_start", cid)
    token = start.body.pop("stream_auth_token")
    assert token.startswith("v1.") and start.body.pop("command_id")
    assert start.body.pop("custom_parameters") == [{"name": "patter_token", "value": token}]
    assert decode_client_state(start.body.pop("client_state")) == {"d": "in"}
    assert start.body == {
        "stream_url": f"wss://agent.test/ws/telnyx/stream/{encode_call_id(cid)}",
        "stream_track": "inbound_track",
        "stream_codec": "L16",
        "stream_bidirectional_mode": "rtp",
        "stream_bidirectional_codec": "L16",
        "stream_bidirectional_sampling_rate": 16000,
        "stream_bidirectional_target_legs": "self",
    }

    # the greeting plays in real time as big-endian L16, 20 ms frames
    await caller.wait_for(lambda: caller.heard_ms >= 400)
    assert set(caller.frame_sizes) == {640}
    greeting = voice(3 * 200, PCM16_16K)  # "Hello from Telnyx." at the fake engine's 200 ms a word
    heard = swap16(bytes(caller.heard))
    assert heard == greeting[: len(heard)]

    # the caller's audio reaches the 16 kHz engine exactly byte-swapped: no resampling on the way in
    audio = voice(400, L16_16K)
    await caller.say(audio)
    session = served.engine.session
    assert session.input_format == PCM16_16K
    sent = caller.dialect.sent_audio  # type: ignore[attr-defined]
    spoken_by = len(sent)  # everything up to the end of the speech has been sent
    await until(lambda: len(session.audio_in) >= spoken_by, what="caller audio at the engine")
    received = bytes(session.audio_in)
    assert received == swap16(bytes(sent[: len(received)]))  # line silence and speech, sample for sample
    assert swap16(audio) in received

    call_info = served.session(cid).call
    assert (call_info.caller, call_info.callee, call_info.direction) == (
        "+15551230000",
        "+15559870000",
        "inbound",
    )
    assert call_info.stream_id == caller.dialect.stream_id  # type: ignore[attr-defined]
    assert call_info.parameters == {}

    await call.hang_up()
    record = await served.record()
    assert record.end_reason == "caller hung up" and record.call.call_id == cid
    await until(lambda: served.statuses_of(cid), what="the hang-up status")
    (final,) = served.statuses_of(cid)
    assert final.status == "call.hangup" and final.outcome is CallOutcome.COMPLETED
    assert final.details["hangup_cause"] == "normal_clearing"
    assert caller.protocol_errors == []
    assert all(d.status == 200 for d in sim.webhooks.deliveries)


async def test_pcmu_call_passes_mulaw_through_untouched(serve: ServeFactory, sim: TelnyxSimulator) -> None:
    engine = FakeEngine(input_formats=(MULAW_8K,), output_formats=(MULAW_8K,))
    served = await serve(engine=engine, codec="PCMU")
    call = await sim.incoming_call()
    caller = await call.wait_media()
    start = sim.api.commands("streaming_start")[0].body
    assert (start["stream_codec"], start["stream_bidirectional_codec"]) == ("PCMU", "PCMU")
    assert start["stream_bidirectional_sampling_rate"] == 8000
    await caller.wait_for(lambda: caller.heard_ms >= 300)
    assert set(caller.frame_sizes) == {160}
    assert bytes(caller.heard) == voice(600, MULAW_8K)[: len(caller.heard)]
    audio = voice(300, MULAW_8K)
    await caller.say(audio)
    session = served.engine.session
    sent = caller.dialect.sent_audio  # type: ignore[attr-defined]
    spoken_by = len(sent)
    await until(lambda: len(session.audio_in) >= spoken_by, what="caller audio at the engine")
    received = bytes(session.audio_in)
    assert received == bytes(sent[: len(received)]) and audio in received
    await call.hang_up()
    assert (await served.record()).end_reason == "caller hung up"


async def test_duplicated_and_reordered_webhooks_make_one_call(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    served = await serve()
    sim.webhooks.duplicates = 3
    sim.webhooks.max_delay_s = 0.05
    call = await sim.incoming_call()
    caller = await call.wait_media()
    await caller.wait_for(lambda: caller.heard_ms >= 200)
    await asyncio.sleep(0.2)  # the late duplicates of call.answered / streaming.started land now
    await served.carrier.wait_idle()
    assert len(sim.api.commands("answer")) == 1
    assert len(sim.api.commands("streaming_start")) == 1
    assert len(served.engine.sessions) == 1 and served.phone.active_calls == 1
    assert len(sim.webhooks.deliveries) >= 9 and all(d.status == 200 for d in sim.webhooks.deliveries)
    await call.hang_up()
    await served.record()
    await served.carrier.wait_idle()
    hangups = [s for s in served.statuses if s.status == "call.hangup"]
    assert len(hangups) == 1  # three deliveries, one status


async def test_a_hangup_that_overtakes_call_initiated_is_not_answered(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    served = await serve()
    call = await sim.incoming_call(deliver=False)
    await call.send("call.hangup", hangup_cause="originator_cancel", hangup_source="caller", state="hangup")
    await call.send("call.initiated")
    await served.carrier.wait_idle()
    assert sim.api.commands("answer") == []
    (status,) = served.statuses_of(call.call_control_id)
    assert status.outcome is CallOutcome.CANCELED


async def test_concurrent_calls_are_independent(serve: ServeFactory, sim: TelnyxSimulator) -> None:
    served = await serve()
    calls = await asyncio.gather(*(sim.incoming_call(from_=f"+1555123000{i}") for i in range(3)))
    callers = await asyncio.gather(*(c.wait_media() for c in calls))
    for caller in callers:
        await caller.wait_for(lambda caller=caller: caller.heard_ms >= 200)  # type: ignore[misc]
    assert served.phone.active_calls == 3 and len(sim.api.commands("answer")) == 3
    await asyncio.gather(*(c.hang_up() for c in calls))
    await until(lambda: len(served.records) == 3, what="three records")
    assert {r.call.caller for r in served.records} == {f"+1555123000{i}" for i in range(3)}


async def test_inbound_calls_are_rejected_busy_while_the_server_drains(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    served = await serve()
    host = served.phone._host
    assert host is not None
    await host.drain(timeout=1)  # shutdown began: no new calls on this instance
    call = await sim.incoming_call(deliver=False)
    await call.send("call.initiated")
    await served.carrier.wait_idle()
    assert sim.api.commands("answer") == []
    (reject,) = sim.api.commands("reject", call.call_control_id)
    assert reject.body["cause"] == "USER_BUSY"
