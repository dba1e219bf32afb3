"""Outbound calls: the Calls.json request, status callbacks, machine detection and the voicemail."""

from __future__ import annotations

import asyncio

import pytest
from patter_twilio import Twilio
from patter_twilio.testing import CallScript, TwilioCallerSimulator
from patter_twilio.testing.harness import OUR_NUMBER, WEBHOOK_HOST, TwilioEnv

from patter_core.errors import CarrierError
from patter_core.interfaces.carrier import CallOutcome, OutboundCallRequest

CALLEE = "+15557654321"
VOICEMAIL = "Hi, this is the clinic. Please call us back."


async def callee_of(env: TwilioEnv, call_id: str) -> TwilioCallerSimulator:
    call = env.api.calls[call_id]
    await asyncio.wait_for(call.connected.wait(), 10)
    assert call.simulator is not None
    return call.simulator


async def test_outbound_call_request_and_answered_outcome(env: TwilioEnv) -> None:
    outbound = await env.phone.call(CALLEE)
    (create,) = env.api.requests_of("create")
    assert create.path == f"/2010-04-01/Accounts/{env.api.account_sid}/Calls.json" and create.auth_ok
    assert create.form == [
        ("To", CALLEE),
        ("From", OUR_NUMBER),
        ("Url", f"https://{WEBHOOK_HOST}/webhooks/twilio/voice"),
        ("Method", "POST"),
        ("StatusCallback", f"https://{WEBHOOK_HOST}/webhooks/twilio/status"),
        ("StatusCallbackMethod", "POST"),
        ("StatusCallbackEvent", "initiated"),
        ("StatusCallbackEvent", "ringing"),
        ("StatusCallbackEvent", "answered"),
        ("StatusCallbackEvent", "completed"),
        ("Timeout", "30"),
    ]
    assert outbound.call_id.startswith("CA") and outbound.call_id in env.api.calls
    outcome = await outbound.outcome(timeout=5)
    assert (outcome.outcome, outcome.status, outcome.answered_by) == (
        CallOutcome.ANSWERED,
        "in-progress",
        None,
    )
    callee = await callee_of(env, outbound.call_id)
    await callee.wait_for(lambda: callee.heard_ms >= 300)  # the agent's greeting reaches the callee
    assert env.api.calls[outbound.call_id].voice_responses == [200]
    await callee.hang_up()
    record = await outbound.record(timeout=10)
    assert (record.call.direction, record.call.caller, record.call.callee) == ("outbound", OUR_NUMBER, CALLEE)
    await env.wait(lambda: len(env.statuses_of(outbound.call_id)) == 4)
    assert [e.status for e in env.statuses_of(outbound.call_id)] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert all(cb.status == 204 for cb in env.api.callbacks)


async def test_a_machine_gets_the_voicemail_in_the_agents_own_voice(env: TwilioEnv) -> None:
    env.api.script(CALLEE, CallScript(answered_by="machine_end_beep", amd_delay_s=0.4))
    outbound = await env.phone.call(CALLEE, voicemail_message=VOICEMAIL)
    (create,) = env.api.requests_of("create")
    form = dict(create.form)
    assert form["MachineDetection"] == "DetectMessageEnd"  # wait for the beep before speaking
    assert form["AsyncAmd"] == "true"
    assert form["AsyncAmdStatusCallback"] == f"https://{WEBHOOK_HOST}/webhooks/twilio/amd"
    assert form["AsyncAmdStatusCallbackMethod"] == "POST"
    assert form["StatusCallback"] == f"https://{WEBHOOK_HOST}/webhooks/twilio/status?amd=1"
    outcome = await outbound.outcome(timeout=5)
    assert (outcome.outcome, outcome.answered_by) == (CallOutcome.VOICEMAIL, "machine")
    assert outcome.details["AnsweredBy"] == "machine_end_beep"
    record = await outbound.record(timeout=15)
    assert VOICEMAIL in env.engine.session.said  # spoken by the agent's engine, not <Say>
    assert record.end_reason == "agent hung up: voicemail left"
    assert [r.form for r in env.api.requests_of("update")] == [[("Status", "completed")]]
    callee = env.api.calls[outbound.call_id].simulator
    assert callee is not None and callee.heard_ms >= 1000  # the machine recorded the message
    # "answered" alone did not decide the outcome: the verdict did
    assert [e.outcome for e in env.statuses_of(outbound.call_id)][:3] == [None, None, None]


async def test_a_human_answers_with_machine_detection_on(env: TwilioEnv) -> None:
    outbound = await env.phone.call(CALLEE, machine_detection=True)
    assert dict(env.api.requests_of("create")[0].form)["MachineDetection"] == "Enable"
    outcome = await outbound.outcome(timeout=5)
    assert (outcome.outcome, outcome.answered_by) == (CallOutcome.ANSWERED, "human")
    callee = await callee_of(env, outbound.call_id)
    await callee.wait_for(lambda: callee.heard_ms >= 200)
    await callee.hang_up()
    record = await outbound.record(timeout=10)
    assert record.end_reason == "caller hung up"


async def test_synchronous_machine_detection_leaves_the_voicemail_too(make_env) -> None:  # type: ignore[no-untyped-def]
    async with make_env(twilio={"async_amd": False}) as env:
        env.api.script(CALLEE, CallScript(answered_by="machine_end_silence"))
        outbound = await env.phone.call(CALLEE, voicemail_message=VOICEMAIL)
        form = dict(env.api.requests_of("create")[0].form)
        assert "AsyncAmd" not in form and form["MachineDetection"] == "DetectMessageEnd"
        outcome = await outbound.outcome(timeout=5)
        assert outcome.outcome is CallOutcome.VOICEMAIL
        record = await outbound.record(timeout=15)
        assert VOICEMAIL in env.engine.session.said
        assert record.end_reason == "agent hung up: voicemail left"
        assert record.call.direction == "outbound"


@pytest.mark.parametrize(
    ("result", "outcome"),
    [("no-answer", CallOutcome.NO_ANSWER), ("busy", CallOutcome.BUSY), ("failed", CallOutcome.FAILED)],
)
async def test_unanswered_outcomes(env: TwilioEnv, result: str, outcome: CallOutcome) -> None:
    env.api.script(CALLEE, CallScript(result=result))
    outbound = await env.phone.call(CALLEE, machine_detection=True)
    decided = await outbound.outcome(timeout=5)
    assert (decided.outcome, decided.status) == (outcome, result)
    with pytest.raises(asyncio.CancelledError):
        await outbound.record(timeout=5)  # there is no conversation to record
    assert env.engine.sessions == []


async def test_create_errors_carry_twilios_code(env: TwilioEnv) -> None:
    env.api.reject_to.add(CALLEE)
    with pytest.raises(CarrierError) as failed:
        await env.phone.call(CALLEE)
    assert failed.value.code == "21211" and failed.value.status == 400
    assert "Invalid 'To' Phone Number" in str(failed.value)


async def test_bad_credentials_name_the_fix_and_never_leak_the_token(
    env: TwilioEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    wrong = Twilio(
        account_sid=env.api.account_sid, auth_token="wrong-token-value-42", base_url=env.api.base_url
    )
    with pytest.raises(CarrierError) as failed:
        await wrong.place_call(OutboundCallRequest(to=CALLEE, from_=OUR_NUMBER), env.phone._host)
    await wrong.aclose()
    message = str(failed.value)
    assert failed.value.code == "20003" and failed.value.status == 401
    assert "TWILIO_AUTH_TOKEN" in message and "auth_token=" in message
    assert "wrong-token-value-42" not in message and "wrong-token-value-42" not in caplog.text
    assert "wrong-token-value-42" not in repr(wrong)


async def test_outbound_parameters_reach_the_call(env: TwilioEnv) -> None:
    request = OutboundCallRequest(
        to=CALLEE, from_=OUR_NUMBER, parameters={"campaign": "spring", "lang": "en"}, time_limit_s=120
    )
    sid = await env.twilio.place_call(request, env.phone._host)
    form = dict(env.api.requests_of("create")[0].form)
    assert form["Url"] == f"https://{WEBHOOK_HOST}/webhooks/twilio/voice?campaign=spring&lang=en"
    assert form["TimeLimit"] == "120"
    callee = await callee_of(env, sid)
    await callee.wait_for(lambda: callee.heard_ms >= 100)
    await callee.hang_up()
    record = await env.record(sid)
    assert record.call.parameters["campaign"] == "spring" and record.call.parameters["lang"] == "en"
