"""Outbound calls: POST /v2/calls, streaming on answer, machine detection and every outcome."""

from __future__ import annotations

import pytest
from patter_telnyx.rest import decode_client_state
from patter_telnyx.testing import Callee, TelnyxSimulator

from patter_core.interfaces.carrier import CallOutcome

from .conftest import OUR_NUMBER, ServeFactory, until

TO = "+15550001111"


async def test_a_human_answers_and_talks_to_the_agent(serve: ServeFactory, sim: TelnyxSimulator) -> None:
    served = await serve()
    outbound = await served.phone.call(TO)
    (dial,) = sim.api.commands("dial")
    body = dict(dial.body)
    assert decode_client_state(body.pop("client_state")) == {"d": "out"}
    assert body.pop("command_id")
    assert body == {"connection_id": sim.connection_id, "to": TO, "from": OUR_NUMBER, "timeout_secs": 30}
    outcome = await outbound.outcome(timeout=5)
    assert outcome.outcome is CallOutcome.ANSWERED and outcome.status == "call.answered"
    call = sim.calls[outbound.call_id]
    callee = await call.wait_media()
    await callee.wait_for(lambda: callee.heard_ms >= 300)  # the agent's first message
    start = sim.api.commands("streaming_start", outbound.call_id)[0].body
    assert start["stream_bidirectional_mode"] == "rtp" and start["stream_auth_token"]
    assert sim.api.commands("answer") == []  # outgoing legs are never answered
    info = served.session(outbound.call_id).call
    assert (info.direction, info.caller, info.callee) == ("outbound", OUR_NUMBER, TO)
    await call.hang_up(source="callee")
    record = await outbound.record(timeout=10)
    assert record.end_reason == "caller hung up"
    await until(lambda: served.statuses_of(outbound.call_id)[-1].status == "call.hangup", what="final status")
    assert served.statuses_of(outbound.call_id)[-1].outcome is CallOutcome.COMPLETED


async def test_a_machine_gets_the_voicemail_after_the_beep(serve: ServeFactory, sim: TelnyxSimulator) -> None:
    served = await serve()
    sim.callees[TO] = Callee("machine", greeting_s=0.3)
    message = "Hi, this is the clinic. Please call us back."
    outbound = await served.phone.call(TO, voicemail_message=message)
    (dial,) = sim.api.commands("dial")
    assert dial.body["answering_machine_detection"] == "detect_beep"
    assert decode_client_state(dial.body["client_state"]) == {"d": "out", "amd": "detect_beep"}
    outcome = await outbound.outcome(timeout=10)
    assert outcome.outcome is CallOutcome.VOICEMAIL and outcome.answered_by == "machine"
    assert outcome.status == "call.machine.greeting.ended"
    statuses = [s.status for s in served.statuses_of(outbound.call_id)]
    assert statuses[:3] == ["call.initiated", "call.answered", "call.machine.detection.ended"]
    assert all(s.outcome is None for s in served.statuses_of(outbound.call_id)[:3])
    record = await outbound.record(timeout=15)
    assert message in served.engine.session.said
    assert record.end_reason == "agent hung up: voicemail left"
    assert sim.api.commands("hangup", outbound.call_id)


async def test_machine_detection_finds_a_human(serve: ServeFactory, sim: TelnyxSimulator) -> None:
    served = await serve()
    outbound = await served.phone.call(TO, machine_detection=True)
    assert sim.api.commands("dial")[0].body["answering_machine_detection"] == "detect"
    outcome = await outbound.outcome(timeout=5)
    assert outcome.outcome is CallOutcome.ANSWERED and outcome.answered_by == "human"
    assert outcome.status == "call.machine.detection.ended"
    await sim.calls[outbound.call_id].hang_up()
    await outbound.record(timeout=10)


@pytest.mark.parametrize(
    ("answer", "expected", "cause"),
    [
        ("busy", CallOutcome.BUSY, "user_busy"),
        ("no_answer", CallOutcome.NO_ANSWER, "timeout"),
        ("reject", CallOutcome.FAILED, "call_rejected"),
    ],
)
async def test_unanswered_outcomes(
    serve: ServeFactory, sim: TelnyxSimulator, answer: str, expected: CallOutcome, cause: str
) -> None:
    served = await serve()
    sim.callees[TO] = Callee(answer)
    outbound = await served.phone.call(TO, ring_timeout_s=20)
    assert sim.api.commands("dial")[0].body["timeout_secs"] == 20
    outcome = await outbound.outcome(timeout=5)
    assert outcome.outcome is expected and outcome.details["hangup_cause"] == cause
    assert sim.api.commands("streaming_start") == [] and served.engine.sessions == []


async def test_dial_errors_are_carrier_errors_with_telnyx_code(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    from patter_core.errors import CarrierError

    served = await serve()
    sim.api.fail("dial", status=422, code="10015", title="Invalid 'to' number")
    with pytest.raises(CarrierError) as caught:
        await served.phone.call(TO)
    assert (
        caught.value.status == 422
        and caught.value.code == "10015"
        and "Invalid 'to' number" in str(caught.value)
    )


async def test_a_machine_without_a_beep_gets_the_voicemail_after_the_greeting_timeout(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    served = await serve()
    served.carrier.greeting_timeout_s = 0.3
    sim.callees[TO] = Callee("machine", beep=False)
    outbound = await served.phone.call(TO, voicemail_message="Call us back.")
    outcome = await outbound.outcome(timeout=5)
    assert outcome.outcome is CallOutcome.VOICEMAIL and outcome.status == "greeting_timeout"
    record = await outbound.record(timeout=15)
    assert record.end_reason == "agent hung up: voicemail left"


async def test_premium_detection_of_a_fax_fails_the_call_and_hangs_up(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    served = await serve()
    served.carrier.machine_detection = "premium"
    sim.callees[TO] = Callee("fax")
    outbound = await served.phone.call(TO, machine_detection=True)
    assert sim.api.commands("dial")[0].body["answering_machine_detection"] == "premium"
    outcome = await outbound.outcome(timeout=5)
    assert outcome.outcome is CallOutcome.FAILED and outcome.answered_by == "fax"
    assert outcome.status == "call.machine.premium.detection.ended"
    await until(lambda: sim.api.commands("hangup", outbound.call_id), what="the hang-up")
