"""The media WebSocket: authentication before anything, strict-but-tolerant frames, hang-up semantics."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
import websockets
from patter_twilio.signature import compute_signature
from patter_twilio.testing import TwilioCallerDialect, new_sid
from patter_twilio.testing.harness import WEBHOOK_HOST, TwilioEnv
from websockets.asyncio.client import connect

from patter_core.audio import MULAW_8K
from patter_core.testing import voice


def start_frame(call_sid: str, stream_sid: str, params: dict[str, str]) -> str:
    dialect = TwilioCallerDialect(
        call_sid=call_sid, stream_sid=stream_sid, account_sid="AC" + "0" * 32, custom_parameters=params
    )
    return dialect.start()


async def closed_code(ws: Any) -> int | None:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    return closed.value.rcvd.code if closed.value.rcvd is not None else None


def signed_headers(env: TwilioEnv, call_sid: str) -> dict[str, str]:
    url = f"wss://{WEBHOOK_HOST}/ws/stream/{call_sid}"
    return {"X-Twilio-Signature": compute_signature(url, None, env.api.auth_token)}


async def test_unauthenticated_streams_are_closed_before_any_provider(make_env) -> None:  # type: ignore[no-untyped-def]
    async with make_env(twilio={"start_timeout_s": 0.3}) as env:
        sim = env.caller()
        response = await sim.post_voice()
        token = response.text.split('name="token" value="')[1].split('"')[0]
        other = new_sid("CA")
        mz = new_sid("MZ")
        cases = [
            (sim.call_sid, start_frame(sim.call_sid, mz, {"token": "v1.forged.token"})),
            (sim.call_sid, start_frame(sim.call_sid, mz, {"token": token.replace("v1.", "v1.x", 1)})),
            (sim.call_sid, start_frame(sim.call_sid, mz, {})),  # no token at all
            (sim.call_sid, start_frame(sim.call_sid, mz, {"token": "v1.ü.é"})),  # non-ASCII junk
            (other, start_frame(other, mz, {"token": token})),  # a token for another call
            (
                other,
                start_frame(sim.call_sid, mz, {"token": token}),
            ),  # start names another call than the path
            (sim.call_sid, None),  # never sends start
            (sim.call_sid, '{"event": "stop"}'),
        ]
        for path_sid, frame in cases:
            async with connect(
                f"{env.ws_base}/ws/stream/{path_sid}", additional_headers=signed_headers(env, path_sid)
            ) as ws:
                await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
                if frame is not None:
                    await ws.send(frame)
                assert await closed_code(ws) == 1008
        assert env.engine.sessions == []  # no provider was contacted
        assert env.twilio.media.rejected == len(cases)
        assert env.phone.active_calls == 0


async def test_upgrade_signature(make_env) -> None:  # type: ignore[no-untyped-def]
    async with make_env() as env:
        # a wrong signature on the upgrade is refused before the socket is accepted
        sim = env.caller()
        await sim.post_voice()
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connect(
                f"{env.ws_base}/ws/stream/{sim.call_sid}",
                additional_headers={"X-Twilio-Signature": "bm9wZQ=="},
            ):
                pass
        assert refused.value.response.status_code == 403
        # signed for another call's URL: refused too
        with pytest.raises(websockets.InvalidStatus):
            async with connect(
                f"{env.ws_base}/ws/stream/{sim.call_sid}",
                additional_headers=signed_headers(env, new_sid("CA")),
            ):
                pass
        # mode "check": no signature at all is tolerated (the call token still authenticates)
        unsigned = env.caller(sign_upgrade=False)
        async with unsigned:
            await unsigned.wait_for(lambda: unsigned.heard_ms >= 100)
        assert env.twilio.media.rejected == 2
    async with make_env(twilio={"stream_signature": "require"}) as env:
        unsigned = env.caller(sign_upgrade=False)
        with pytest.raises(websockets.InvalidStatus):
            await unsigned.connect()
        signed = env.caller()
        async with signed:
            await signed.wait_for(lambda: signed.heard_ms >= 100)
        assert len(env.engine.sessions) == 1


async def test_malformed_frames_are_dropped_and_the_call_goes_on(
    env: TwilioEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="patter.media")
    async with env.caller() as sim:
        await sim.wait_for(lambda: sim.heard_ms >= 100)
        junk = [
            "this is not json",
            "[1, 2, 3]",
            json.dumps({"event": "media", "streamSid": sim.stream_sid, "media": {"payload": "***"}}),
            json.dumps({"event": "media", "streamSid": sim.stream_sid}),
            json.dumps({"event": "media", "streamSid": new_sid("MZ"), "media": {"payload": "//8="}}),
            json.dumps({"event": "dtmf", "streamSid": sim.stream_sid, "dtmf": {"digit": "12"}}),
            json.dumps({"event": "mark", "streamSid": sim.stream_sid, "mark": {}}),
            json.dumps({"event": "bogus", "streamSid": sim.stream_sid}),
            json.dumps(
                {
                    "event": "media",
                    "sequenceNumber": "x9",
                    "streamSid": sim.stream_sid,
                    "media": {"payload": "//8="},
                }
            ),
            start_frame(sim.call_sid, sim.stream_sid, {"token": "again"}),
        ]
        for frame in junk:
            await sim.send_raw(frame)
        # outbound-track media (what Twilio plays) is not caller audio
        await sim.send_raw(
            json.dumps(
                {
                    "event": "media",
                    "sequenceNumber": "900",
                    "streamSid": sim.stream_sid,
                    "media": {
                        "track": "outbound",
                        "chunk": "1",
                        "timestamp": "0",
                        "payload": base64.b64encode(b"\x00" * 160).decode(),
                    },
                }
            )
        )
        caller_audio = voice(200, MULAW_8K)
        await sim.say(caller_audio)
        session = env.engine.session
        await sim.wait_for(lambda: caller_audio in bytes(session.audio_in))  # unchanged (mu-law passthrough)
        assert b"\x00" * 160 not in bytes(session.audio_in)  # the outbound-track frame was not caller audio
        assert env.phone.active_calls == 1
        await sim.hang_up()
    record = await env.record(sim.call_sid)
    assert record.end_reason == "caller hung up"
    assert "dropped malformed media frame" in caplog.text


async def test_a_close_without_stop_is_a_normal_hang_up(env: TwilioEnv) -> None:
    async with env.caller() as sim:
        await sim.wait_for(lambda: sim.heard_ms >= 100)
        await sim.drop()
    record = await env.record(sim.call_sid)
    assert record.end_reason == "caller hung up"
    assert env.api.requests_of("update") == []  # nothing to hang up: the caller is gone


async def test_call_info_comes_from_the_signed_token(env: TwilioEnv) -> None:
    async with env.caller(from_="+15551230000") as sim:
        await sim.wait_for(lambda: sim.heard_ms >= 100)
        await sim.hang_up()
    record = await env.record(sim.call_sid)
    call = record.call
    assert (call.call_id, call.carrier, call.direction) == (sim.call_sid, "twilio", "inbound")
    assert (call.caller, call.callee) == ("+15551230000", "+15550002222")
    assert call.stream_id == sim.stream_sid
    assert dict(call.parameters) == {"caller": "+15551230000", "callee": "+15550002222"}  # token stripped
