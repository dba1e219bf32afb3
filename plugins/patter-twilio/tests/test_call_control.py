"""Call control through the REST API: transfers (cold and warm), hang-up, recording, DTMF."""

from __future__ import annotations

import asyncio

import pytest
from patter_twilio.testing import CallScript, TwilioCallerSimulator, new_sid
from patter_twilio.testing.harness import OUR_NUMBER, TwilioEnv

from patter_core.audio import MULAW_8K, ulaw_decode
from patter_core.errors import CarrierError
from patter_core.interfaces.carrier import CallInfo, WarmTransfer

SALES = "+15553334444"  # the "sales" transfer destination of the conftest agent


def info(sim: TwilioCallerSimulator) -> CallInfo:
    return CallInfo(
        call_id=sim.call_sid, carrier="twilio", direction="inbound", caller=sim.from_, callee=sim.to
    )


async def test_cold_transfer_by_the_agent(env: TwilioEnv) -> None:
    async with env.caller() as sim:
        await sim.wait_for(lambda: sim.heard_ms >= 200)
        env.engine.session.call_tool("transfer_call", {"destination": "sales", "reason": "wants to buy"})
        await sim.wait_for(sim.live.closed.is_set, timeout=15)  # Twilio stopped the stream
    record = await env.record(sim.call_sid)
    (update,) = env.api.requests_of("update")
    assert update.path.endswith(f"/Calls/{sim.call_sid}.json")
    assert update.form == [("Twiml", f"<Response><Dial>{SALES}</Dial></Response>")]
    assert record.end_reason == f"transferred to {SALES}"
    assert env.api.calls[sim.call_sid].transferred


async def test_cold_transfer_to_sip_and_client(env: TwilioEnv) -> None:
    sim = env.caller()
    async with sim:
        await env.twilio.transfer(info(sim), "sip:desk@pbx.example.com")
    forms = [r.form for r in env.api.requests_of("update")]
    assert forms == [[("Twiml", "<Response><Dial><Sip>sip:desk@pbx.example.com</Sip></Dial></Response>")]]
    other = env.caller()
    async with other:
        await env.twilio.transfer(info(other), "client:alice")
    assert env.api.requests_of("update")[-1].form == [
        ("Twiml", "<Response><Dial><Client>alice</Client></Dial></Response>")
    ]


async def test_warm_transfer_follows_the_conference_pattern(env: TwilioEnv) -> None:
    async with env.caller() as sim:
        await sim.wait_for(lambda: sim.heard_ms >= 200)
        warm = WarmTransfer(
            summary="Caller wants a refund for order 42 & is upset.",
            hold_music_url="https://music.test/hold?x=1&y=2",
        )
        await env.twilio.transfer(info(sim), SALES, warm=warm)
        await sim.wait_for(sim.live.closed.is_set, timeout=10)
    room = f"patter-{sim.call_sid}"
    (hold,) = env.api.requests_of("update")
    assert hold.path.endswith(f"/Calls/{sim.call_sid}.json")
    assert hold.form == [
        (
            "Twiml",
            '<Response><Dial><Conference startConferenceOnEnter="false" endConferenceOnExit="true" '
            f'waitUrl="https://music.test/hold?x=1&amp;y=2">{room}</Conference></Dial></Response>',
        )
    ]
    (human,) = env.api.requests_of("create")
    form = human.form
    assert form[:3] == [
        ("To", SALES),
        ("From", OUR_NUMBER),
        (
            "Twiml",
            "<Response><Say>Caller wants a refund for order 42 &amp; is upset.</Say>"
            '<Dial><Conference startConferenceOnEnter="true" endConferenceOnExit="true">'
            f"{room}</Conference></Dial></Response>",
        ),
    ]
    assert dict(form)["StatusCallback"].endswith(f"/webhooks/twilio/status?warm_for={sim.call_sid}")
    assert dict(form)["Timeout"] == "30"
    assert env.api.calls[sim.call_sid].transferred  # the caller waits in the conference


async def test_warm_transfer_without_hold_music_uses_twilios_default(env: TwilioEnv) -> None:
    async with env.caller() as sim:
        await env.twilio.transfer(info(sim), SALES, warm=WarmTransfer(summary="hi"))
    twiml = env.api.requests_of("update")[0].form[0][1]
    assert "waitUrl" not in twiml and 'startConferenceOnEnter="false"' in twiml


async def test_warm_transfer_failure_falls_back_to_a_message_and_hang_up(env: TwilioEnv) -> None:
    env.api.fail_next("create", 400, 21211, "Invalid 'To' Phone Number")
    async with env.caller() as sim:
        with pytest.raises(CarrierError) as failed:
            await env.twilio.transfer(info(sim), SALES, warm=WarmTransfer(summary="hi"))
    assert failed.value.code == "21211"
    updates = [r.form for r in env.api.requests_of("update")]
    assert len(updates) == 2 and "<Conference" in updates[0][0][1]
    assert updates[1] == [
        (
            "Twiml",
            "<Response><Say>Sorry, I couldn't connect you right now. Please call back later. Goodbye.</Say><Hangup/></Response>",
        )
    ]


async def test_warm_transfer_leg_that_is_not_answered_ends_the_callers_wait(env: TwilioEnv) -> None:
    env.api.script(SALES, CallScript(result="no-answer"))
    async with env.caller() as sim:
        await env.twilio.transfer(info(sim), SALES, warm=WarmTransfer(summary="hi"))
        await env.api.wait_for(lambda: len(env.api.requests_of("update")) == 2)
    fallback = env.api.requests_of("update")[1]
    assert fallback.path.endswith(f"/Calls/{sim.call_sid}.json") and "<Hangup/>" in fallback.form[0][1]
    assert env.statuses_of(next(iter(c for c in env.api.calls if c != sim.call_sid))) == []  # internal leg


@pytest.mark.parametrize("ended_error", [(404, 20404), (400, 21220)])
async def test_hanging_up_an_ended_call_is_success(make_env, ended_error: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async with make_env(api={"ended_call_error": ended_error}) as env:
        async with env.caller() as sim:
            await sim.wait_for(lambda: sim.heard_ms >= 100)
            await sim.hang_up()
        await env.api.wait_for(lambda: env.api.calls[sim.call_sid].status == "completed")
        await env.twilio.hangup(info(sim))  # no exception
        await env.twilio.hangup(CallInfo(call_id=new_sid("CA"), carrier="twilio"))  # unknown call: 404
        statuses = [r.status for r in env.api.requests_of("update")]
        assert statuses == [ended_error[0], 404]


async def test_hang_up_with_a_message(env: TwilioEnv) -> None:
    async with env.caller() as sim:
        await env.twilio.hangup(info(sim), message="Sorry, we're having <technical> difficulties.")
        await sim.wait_for(sim.live.closed.is_set)
    (update,) = env.api.requests_of("update")
    assert update.form == [
        (
            "Twiml",
            "<Response><Say>Sorry, we're having &lt;technical&gt; difficulties.</Say><Hangup/></Response>",
        )
    ]
    await env.api.wait_for(lambda: env.api.calls[sim.call_sid].status == "completed")


async def test_other_rest_errors_raise_carrier_error_with_code_and_message(env: TwilioEnv) -> None:
    env.api.fail_next("update", 429, 20429, "Too Many Requests")
    with pytest.raises(CarrierError) as failed:
        await env.twilio.hangup(CallInfo(call_id=new_sid("CA"), carrier="twilio"))
    assert (failed.value.status, failed.value.code) == (429, "20429")
    assert "Too Many Requests" in str(failed.value) and "docs/errors/20429" in str(failed.value)
    env.api.fail_next("update", 500, 20500, "Internal Server Error")
    with pytest.raises(CarrierError):
        await env.twilio.transfer(CallInfo(call_id=new_sid("CA"), carrier="twilio"), SALES)


async def test_unreachable_api_is_a_carrier_error(env: TwilioEnv) -> None:
    from patter_twilio import Twilio

    dead = Twilio(account_sid=env.api.account_sid, auth_token="t", base_url="http://127.0.0.1:9")
    with pytest.raises(CarrierError) as failed:
        await dead.hangup(CallInfo(call_id=new_sid("CA"), carrier="twilio"))
    await dead.aclose()
    assert "ConnectError" in str(failed.value)


async def test_start_recording_returns_the_recording_sid(env: TwilioEnv) -> None:
    async with env.caller() as sim:
        sid = await env.twilio.start_recording(info(sim))
    assert sid is not None and sid.startswith("RE") and len(sid) == 34
    (request,) = env.api.requests_of("recording")
    assert request.path.endswith(f"/Calls/{sim.call_sid}/Recordings.json")
    assert request.form == [("RecordingChannels", "dual")]
    assert env.api.calls[sim.call_sid].recordings == [sid]


async def test_dtmf_out_is_played_in_band(env: TwilioEnv) -> None:
    assert await env.twilio.send_dtmf(CallInfo(call_id="CA1", carrier="twilio"), "1") is False
    async with env.caller() as sim:
        await sim.wait_for(lambda: sim.heard_ms >= 200)
        session = env.session(sim.call_sid)
        await sim.wait_for(lambda: not session.player.speaking)
        before = len(sim.heard)
        await session.send_dtmf("1")
        await sim.wait_for(lambda: len(sim.heard) - before >= MULAW_8K.bytes_for_ms(100))
        await asyncio.sleep(0.1)
        tone = ulaw_decode(sim.heard[before:])
        assert abs(tone).max() > 1000  # the caller heard the tone through the media stream
    assert env.api.requests_of("update") == []  # no REST DTMF (media streams cannot send it)
