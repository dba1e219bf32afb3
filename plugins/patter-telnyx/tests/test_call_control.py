"""Barge-in, DTMF both ways, transfer, warm transfer, hang-up and recording -- commands exactly as
PROTOCOLS.md §2.4 shows them, on a live simulated call."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from patter_telnyx.rest import decode_client_state
from patter_telnyx.testing import Callee, SimCall, TelnyxSimulator

from patter_core.audio import L16_16K
from patter_core.errors import CarrierError
from patter_core.interfaces.carrier import WarmTransfer
from patter_core.testing import voice

from .conftest import SALES, Served, ServeFactory, until


def is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


async def live_call(served: Served, sim: TelnyxSimulator) -> tuple[SimCall, object]:
    call = await sim.incoming_call()
    caller = await call.wait_media()
    await caller.wait_for(lambda: caller.heard_ms >= 200)
    return call, caller


async def test_barge_in_clears_telnyx_and_truncates_at_what_was_heard(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    served = await serve()
    call, caller = await live_call(served, sim)
    await caller.wait_for(lambda: caller.heard_ms >= 600)  # type: ignore[attr-defined]
    session = served.engine.session
    item = await session.speak("one two three four five six seven eight nine ten")
    await caller.wait_for(lambda: caller.heard_ms >= 1200)  # type: ignore[attr-defined]
    session.caller_starts()
    await caller.wait_for(lambda: caller.clears == 1)  # type: ignore[attr-defined]
    await until(lambda: session.truncations, what="the truncation")
    (truncated, heard_ms) = session.truncations[0]
    assert truncated == item
    assert 0 < heard_ms <= caller.heard_ms - 600  # type: ignore[attr-defined]
    assert caller.marks_sent_back  # type: ignore[attr-defined]  # Telnyx echoed marks after playback
    assert caller.protocol_errors == []  # type: ignore[attr-defined]
    await call.hang_up()
    await served.record()


async def test_dtmf_in_once_and_dtmf_out_through_the_api(serve: ServeFactory, sim: TelnyxSimulator) -> None:
    served = await serve()
    call, caller = await live_call(served, sim)
    await caller.press("5")  # type: ignore[attr-defined]
    await call.send("call.dtmf.received", digit="5")  # the same key press, by webhook: not delivered twice
    session = served.engine.session
    await until(lambda: session.texts, what="the key press at the engine")
    await served.carrier.wait_idle()
    await asyncio.sleep(0.1)
    assert session.texts == ["(The caller pressed the 5 key on the keypad.)"]

    await served.session(call.call_control_id).send_dtmf("12#")
    (dtmf,) = sim.api.commands("send_dtmf", call.call_control_id)
    assert set(dtmf.body) == {"digits", "duration_millis", "command_id"}
    assert (
        dtmf.body["digits"] == "12#"
        and dtmf.body["duration_millis"] == 250
        and is_uuid(dtmf.body["command_id"])
    )
    assert call.dtmf_sent == ["12#"]
    await call.hang_up()
    record = await served.record()
    assert [e.data for e in record.events_of("dtmf")] == [{"digit": "5"}]
    with pytest.raises(CarrierError, match="invalid DTMF"):
        await served.carrier.send_dtmf(served.info(call.call_control_id), "12x")


async def test_transfer_tool_sends_actions_transfer(serve: ServeFactory, sim: TelnyxSimulator) -> None:
    served = await serve()
    call, _ = await live_call(served, sim)
    served.engine.session.call_tool("transfer_call", {"destination": "sales"})
    record = await served.record()
    (transfer,) = sim.api.commands("transfer", call.call_control_id)
    assert set(transfer.body) == {"to", "command_id"}
    assert transfer.body["to"] == SALES and is_uuid(transfer.body["command_id"])
    assert record.end_reason == f"transferred to {SALES}"
    assert sim.api.commands("hangup") == []
    assert call.transferred_to == SALES


async def test_end_call_tool_sends_actions_hangup(serve: ServeFactory, sim: TelnyxSimulator) -> None:
    served = await serve()
    call, _ = await live_call(served, sim)
    served.engine.session.call_tool("end_call", {"reason": "done"})
    record = await served.record()
    (hangup,) = sim.api.commands("hangup", call.call_control_id)
    assert set(hangup.body) == {"command_id"} and is_uuid(hangup.body["command_id"])
    assert record.end_reason == "agent hung up: done"
    await until(lambda: served.statuses_of(call.call_control_id), what="call.hangup status")


async def test_hangup_with_a_message_speaks_first_then_hangs_up(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    served = await serve()
    call = await sim.incoming_call()
    await call.wait_media()
    await served.carrier.hangup(served.info(call.call_control_id), message="Sorry, we have to go. Goodbye.")
    (speak,) = sim.api.commands("speak", call.call_control_id)
    assert speak.body["payload"] == "Sorry, we have to go. Goodbye." and speak.body["voice"] == "female"
    assert speak.body["language"] == "en-US" and is_uuid(speak.body["command_id"])
    await until(lambda: sim.api.commands("hangup", call.call_control_id), what="the hang-up after the speech")
    actions = [r.action for r in sim.api.requests if r.call_control_id == call.call_control_id]
    assert actions.index("speak") < actions.index("hangup")
    assert call.spoken == ["Sorry, we have to go. Goodbye."]
    await served.record()


async def test_hanging_up_a_call_that_already_ended_is_success(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    served = await serve()
    call = await sim.incoming_call(deliver=False)
    sim.api.end(call.call_control_id)  # ended at Telnyx; we have not heard of it yet
    await served.carrier.hangup(served.info(call.call_control_id))
    (refused,) = [r for r in sim.api.requests if r.action == "hangup"]
    assert refused.status == 422 and refused.call_control_id == call.call_control_id
    await served.carrier.hangup(served.info(call.call_control_id), message="bye")  # known ended: no request
    assert [r.status for r in sim.api.requests] == [422]
    await call.send("call.hangup", hangup_cause="normal_clearing", hangup_source="caller", state="hangup")
    await served.carrier.wait_idle()
    (status,) = served.statuses_of(call.call_control_id)  # the final status is still reported
    assert status.status == "call.hangup" and status.outcome is not None
    other = await sim.incoming_call(deliver=False)
    sim.api.end(other.call_control_id)
    await served.carrier.hangup(served.info(other.call_control_id), message="bye")  # 90018 on speak: done
    assert [r.action for r in sim.api.requests] == ["hangup", "speak"] and sim.api.requests[1].status == 422


async def test_warm_transfer_briefs_the_human_then_bridges(serve: ServeFactory, sim: TelnyxSimulator) -> None:
    served = await serve()
    call, _ = await live_call(served, sim)
    warm = WarmTransfer(
        summary="Ana wants a refund for order 42.", hold_music_url="https://example.com/hold.mp3"
    )
    await served.carrier.transfer(served.session(call.call_control_id).call, SALES, warm=warm)
    a = call.call_control_id
    (playback,) = sim.api.commands("playback_start", a)
    assert (
        playback.body["audio_url"] == "https://example.com/hold.mp3" and playback.body["loop"] == "infinity"
    )
    (dial,) = sim.api.commands("dial")
    assert dial.body["to"] == SALES and dial.body["from"] == "+15559870000"
    assert dial.body["connection_id"] == sim.connection_id
    assert decode_client_state(dial.body["client_state"])["p"] == "warm"
    b = next(cid for cid, c in sim.calls.items() if c.direction == "outgoing")
    (speak,) = sim.api.commands("speak", b)
    assert speak.body["payload"] == warm.summary
    (bridge,) = sim.api.commands("bridge", a)
    assert bridge.body["call_control_id"] == b
    assert sim.api.commands("playback_stop", a)
    assert sim.api.commands("streaming_start", b) == []  # the human's leg never streams to the agent
    await until(lambda: sim.calls[b].bridged_with == a and call.bridged_with == b, what="the bridge")


async def test_a_failed_warm_transfer_raises_and_keeps_the_call(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    served = await serve()
    call, _ = await live_call(served, sim)
    sim.callees[SALES] = Callee("busy")
    warm = WarmTransfer(summary="Refund request.", hold_music_url="https://example.com/hold.mp3")
    with pytest.raises(CarrierError, match="did not answer \\(user_busy\\)"):
        await served.carrier.transfer(served.session(call.call_control_id).call, SALES, warm=warm)
    assert sim.api.commands("bridge") == [] and sim.api.commands("playback_stop", call.call_control_id)
    assert served.phone.active_calls == 1  # the agent is still on the line
    await call.hang_up()
    await served.record()


async def test_recording_starts_dual_channel_wav_and_reports_the_files(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    served = await serve()
    call, caller = await live_call(served, sim)
    recording_id = await served.carrier.start_recording(served.info(call.call_control_id))
    (record,) = sim.api.commands("record_start", call.call_control_id)
    assert {k: v for k, v in record.body.items() if k != "command_id"} == {
        "format": "wav",
        "channels": "dual",
    }
    assert recording_id == record.body["command_id"]
    await caller.say(voice(100, L16_16K))  # type: ignore[attr-defined]
    await call.hang_up()
    await until(
        lambda: any(s.status == "call.recording.saved" for s in served.statuses), what="call.recording.saved"
    )
    saved = next(s for s in served.statuses if s.status == "call.recording.saved")
    assert saved.details["recording_urls"]["wav"].endswith(".wav")


async def test_a_failed_stream_is_retried_once_then_the_caller_hears_an_apology(
    sim: TelnyxSimulator, serve: ServeFactory
) -> None:
    sim.auto_connect_media = False
    served = await serve()
    call = await sim.incoming_call()
    await until(lambda: sim.api.commands("streaming_start"), what="streaming_start")
    await call.send("streaming.failed", failure_reason="connection_failed", stream_type="websocket")
    await until(lambda: len(sim.api.commands("streaming_start")) == 2, what="the retry")
    await call.send("streaming.failed", failure_reason="connection_failed", stream_type="websocket")
    await until(lambda: sim.api.commands("hangup"), what="the hang-up")
    assert "technical difficulties" in sim.api.commands("speak")[0].body["payload"]
    await served.carrier.wait_idle()


async def test_shutdown_sends_pending_spoken_hangups_at_once(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    served = await serve()
    sim.speak_ms_per_word = 60_000  # the message would take minutes: speak.ended never comes in time
    call = await sim.incoming_call()
    await call.wait_media()
    await served.carrier.hangup(served.info(call.call_control_id), message="A very long goodbye.")
    assert sim.api.commands("speak") and not sim.api.commands("hangup")
    await served.carrier.aclose()
    assert sim.api.commands("hangup", call.call_control_id)
    assert not served.carrier._tasks  # nothing left running
