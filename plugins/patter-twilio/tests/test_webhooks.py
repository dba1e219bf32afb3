"""The voice, status and AMD webhooks on the real server: signatures, TwiML, idempotency, bad input."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import httpx
import pytest
from patter_twilio.signature import compute_signature
from patter_twilio.testing import new_sid, parse_stream_twiml
from patter_twilio.testing.harness import OUR_NUMBER, WEBHOOK_HOST, TwilioEnv

from patter_core.interfaces.carrier import CallOutcome

VOICE = f"https://{WEBHOOK_HOST}/webhooks/twilio/voice"
STATUS = f"https://{WEBHOOK_HOST}/webhooks/twilio/status"
AMD = f"https://{WEBHOOK_HOST}/webhooks/twilio/amd"


async def post(env: TwilioEnv, public_url: str, form: list[tuple[str, str]], **kw: object) -> httpx.Response:
    """POST ``form`` to the local server for ``public_url``, signed unless ``signature=`` is given."""
    signature = kw.pop("signature", compute_signature(public_url, form, env.api.auth_token))
    headers = {"Content-Type": "application/x-www-form-urlencoded", **kw.pop("headers", {})}  # type: ignore[dict-item]
    if signature is not None:
        headers["X-Twilio-Signature"] = str(signature)
    local = env.base + public_url[len(f"https://{WEBHOOK_HOST}") :]
    body = kw.pop("body", None)
    async with httpx.AsyncClient() as client:
        if body is not None:
            return await client.post(local, content=body, headers=headers)
        return await client.post(local, data=_multi(form), headers=headers)


def _multi(form: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in form:
        out.setdefault(k, []).append(v)
    return out


def status_form(sid: str, status: str, seq: int, **extra: str) -> list[tuple[str, str]]:
    return [
        ("AccountSid", "AC" + "0" * 32),
        ("CallSid", sid),
        ("CallStatus", status),
        ("Direction", "outbound-api"),
        ("From", OUR_NUMBER),
        ("To", "+15557654321"),
        ("SequenceNumber", str(seq)),
        ("CallbackSource", "call-progress-events"),
        *extra.items(),
    ]


async def test_voice_webhook_answers_a_stream_with_parameters_and_a_call_token(env: TwilioEnv) -> None:
    sim = env.caller(from_="+15550001111")
    response = await sim.post_voice()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    text = response.text
    stream = parse_stream_twiml(text)
    assert stream is not None
    assert stream.url == f"wss://{WEBHOOK_HOST}/ws/stream/{sim.call_sid}"  # no query string
    assert list(stream.parameters) == ["caller", "callee", "token"]
    assert stream.parameters["caller"] == "+15550001111" and stream.parameters["callee"] == OUR_NUMBER
    token = stream.parameters["token"]
    assert env.phone.tokens.verify(token, sim.call_sid) == {
        "caller": "+15550001111",
        "callee": OUR_NUMBER,
        "direction": "inbound",
    }
    assert env.phone.tokens.verify(token, new_sid("CA")) is None  # bound to this call only
    assert text == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
        f'<Stream url="wss://{WEBHOOK_HOST}/ws/stream/{sim.call_sid}">'
        '<Parameter name="caller" value="+15550001111" />'
        f'<Parameter name="callee" value="{OUR_NUMBER}" />'
        f'<Parameter name="token" value="{token}" />'
        "</Stream></Connect></Response>"
    )


async def test_forged_missing_and_replayed_signatures_get_403(env: TwilioEnv) -> None:
    sim = env.caller()
    form = sim.form()
    good = compute_signature(VOICE, form, env.api.auth_token)
    cases = {
        "forged": await post(env, VOICE, form, signature="AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        "missing": await post(env, VOICE, form, signature=None),
        "wrong token": await post(
            env, VOICE, form, signature=compute_signature(VOICE, form, "not-the-token")
        ),
        "http scheme": await post(
            env,
            VOICE,
            form,
            signature=compute_signature(VOICE.replace("https", "http"), form, env.api.auth_token),
        ),
        "other host": await post(
            env,
            VOICE,
            form,
            signature=compute_signature(VOICE.replace(WEBHOOK_HOST, "evil.test"), form, env.api.auth_token),
        ),
        "replayed to status": await post(env, STATUS, form, signature=good),
        "tampered field": await post(
            env, VOICE, [(k, "+19990000000" if k == "From" else v) for k, v in form], signature=good
        ),
        "extra field": await post(env, VOICE, [*form, ("Digits", "1")], signature=good),
    }
    assert {name: r.status_code for name, r in cases.items()} == dict.fromkeys(cases, 403)
    assert env.twilio.webhooks.rejected == len(cases)
    assert (await post(env, VOICE, form, signature=good)).status_code == 200


async def test_default_port_in_the_signed_url_is_accepted(env: TwilioEnv) -> None:
    sim = env.caller()
    form = sim.form()
    signature = compute_signature(
        VOICE.replace(WEBHOOK_HOST, f"{WEBHOOK_HOST}:443"), form, env.api.auth_token
    )
    assert (await post(env, VOICE, form, signature=signature)).status_code == 200


async def test_malformed_signed_requests_get_400_and_never_500(env: TwilioEnv) -> None:
    no_sid = [("From", "+15550001111"), ("To", OUR_NUMBER)]
    bad_sid = [("CallSid", "CA<script>"), ("From", "+1")]
    assert (await post(env, VOICE, no_sid)).status_code == 400
    assert (await post(env, VOICE, bad_sid)).status_code == 400
    assert (await post(env, STATUS, [("CallSid", new_sid("CA"))])).status_code == 400  # no CallStatus
    assert (await post(env, AMD, [("CallSid", new_sid("CA"))])).status_code == 400  # no AnsweredBy
    not_utf8 = await post(env, VOICE, [], body=b"CallSid=\xff\xfe", signature="x")
    assert not_utf8.status_code == 400
    # a JSON body (bodySHA256 variant), correctly signed, is not a voice webhook
    body = b'{"CallSid": "CA1"}'
    from patter_twilio.signature import body_sha256

    url = f"{VOICE}?bodySHA256={body_sha256(body)}"
    signature = compute_signature(url, None, env.api.auth_token)
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{env.base}/webhooks/twilio/voice?bodySHA256={body_sha256(body)}",
            content=body,
            headers={"X-Twilio-Signature": signature, "Content-Type": "application/json"},
        )
        forged = await client.post(
            f"{env.base}/webhooks/twilio/voice?bodySHA256={body_sha256(b'other')}",
            content=body,
            headers={"X-Twilio-Signature": signature, "Content-Type": "application/json"},
        )
    assert response.status_code == 400
    assert forged.status_code == 403
    assert env.engine.sessions == []


async def test_values_are_xml_escaped(env: TwilioEnv) -> None:
    nasty = "\"/><Hangup/><Say a='&"
    sim = env.caller(from_=nasty)
    response = await sim.post_voice()
    assert response.status_code == 200
    root = ET.fromstring(response.text)
    assert root.find("./Hangup") is None and root.find("./Connect/Stream/Hangup") is None
    stream = parse_stream_twiml(response.text)
    assert stream is not None and stream.parameters["caller"] == nasty


async def test_get_webhook_and_query_parameters_are_signed_byte_for_byte(env: TwilioEnv) -> None:
    sim = env.caller()
    query = "agent=support&note=a%20b%2Bc"
    url = f"{VOICE}?{query}"
    form = sim.form()
    response = await post(env, url, form)
    assert response.status_code == 200
    stream = parse_stream_twiml(response.text)
    assert (
        stream is not None
        and stream.parameters["agent"] == "support"
        and stream.parameters["note"] == "a b+c"
    )
    reordered = await post(
        env,
        f"{VOICE}?note=a%20b%2Bc&agent=support",
        form,
        signature=compute_signature(url, form, env.api.auth_token),
    )
    assert reordered.status_code == 403
    # GET: the parameters are in the signed URL, nothing appended
    get_url = f"{VOICE}?CallSid={sim.call_sid}&From=%2B15550001111&To=%2B15550002222"
    async with httpx.AsyncClient() as client:
        got = await client.get(
            env.base + get_url[len(f"https://{WEBHOOK_HOST}") :],
            headers={"X-Twilio-Signature": compute_signature(get_url, None, env.api.auth_token)},
        )
    assert got.status_code == 200 and parse_stream_twiml(got.text) is not None


async def test_shared_key_signatures(make_env) -> None:  # type: ignore[no-untyped-def]
    async with make_env(twilio={"shared_keys": {"sk_1": "shared-secret-value"}}) as env:
        sim = env.caller()
        form = sim.form()
        signature = compute_signature(VOICE, form, "shared-secret-value", algorithm="HMAC_SHA256")
        settings = {"X-Twilio-Webhooks-Signature-Settings": "key=sk_1,algorithm=HMAC_SHA256"}
        assert (await post(env, VOICE, form, signature=signature, headers=settings)).status_code == 200
        assert (await post(env, VOICE, form, signature=signature)).status_code == 403
        unknown = {"X-Twilio-Webhooks-Signature-Settings": "key=sk_2,algorithm=HMAC_SHA256"}
        assert (await post(env, VOICE, form, signature=signature, headers=unknown)).status_code == 403


async def test_verify_webhooks_false_accepts_unsigned_requests(make_env) -> None:  # type: ignore[no-untyped-def]
    async with make_env(verify_webhooks=False) as env:
        sim = env.caller(sign=False, sign_upgrade=False)
        assert (await sim.post_voice()).status_code == 200


async def test_status_callbacks_are_reported_once_and_answered_204(env: TwilioEnv) -> None:
    sid = new_sid("CA")
    for seq, status in enumerate(
        ["initiated", "ringing", "ringing", "in-progress", "completed", "completed"]
    ):
        response = await post(
            env,
            STATUS,
            status_form(sid, status, seq, **({"CallDuration": "12"} if status == "completed" else {})),
        )
        assert response.status_code == 204 and response.content == b""
    # a repeated delivery (same SequenceNumber and CallStatus) is ignored too
    assert (await post(env, STATUS, status_form(sid, "ringing", 1))).status_code == 204
    events = env.statuses_of(sid)
    assert [e.status for e in events] == ["initiated", "ringing", "in-progress", "completed"]
    assert [e.outcome for e in events] == [None, None, CallOutcome.ANSWERED, CallOutcome.COMPLETED]
    assert events[-1].duration_s == 12.0 and events[-1].details["SequenceNumber"] == "4"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("busy", CallOutcome.BUSY),
        ("no-answer", CallOutcome.NO_ANSWER),
        ("failed", CallOutcome.FAILED),
        ("canceled", CallOutcome.CANCELED),
    ],
)
async def test_terminal_statuses_map_to_outcomes(env: TwilioEnv, status: str, outcome: CallOutcome) -> None:
    sid = new_sid("CA")
    assert (await post(env, STATUS, status_form(sid, status, 2))).status_code == 204
    assert [e.outcome for e in env.statuses_of(sid)] == [outcome]


async def test_with_machine_detection_answered_waits_for_the_verdict(env: TwilioEnv) -> None:
    sid = new_sid("CA")
    assert (await post(env, f"{STATUS}?amd=1", status_form(sid, "in-progress", 2))).status_code == 204
    assert [e.outcome for e in env.statuses_of(sid)] == [None]
    form = [
        ("AccountSid", "AC" + "0" * 32),
        ("CallSid", sid),
        ("AnsweredBy", "human"),
        ("MachineDetectionDuration", "1800"),
    ]
    assert (await post(env, AMD, form)).status_code == 204
    assert (await post(env, AMD, form)).status_code == 204  # repeated: ignored
    events = env.statuses_of(sid)
    assert [(e.outcome, e.answered_by) for e in events] == [(None, None), (CallOutcome.ANSWERED, "human")]


async def test_machine_verdict_without_a_stream_is_reported_at_once(env: TwilioEnv) -> None:
    sid = new_sid("CA")
    form = [("CallSid", sid), ("AnsweredBy", "machine_end_beep")]
    assert (await post(env, AMD, form)).status_code == 204
    await env.wait(lambda: bool(env.statuses_of(sid)))
    (event,) = env.statuses_of(sid)
    assert event.outcome is CallOutcome.VOICEMAIL and event.answered_by == "machine"
    assert event.details["AnsweredBy"] == "machine_end_beep"


async def test_fax_verdict_fails_the_attempt_and_hangs_up(env: TwilioEnv) -> None:
    sid = new_sid("CA")
    assert (await post(env, AMD, [("CallSid", sid), ("AnsweredBy", "fax")])).status_code == 204
    await env.wait(lambda: bool(env.api.requests_of("update")))
    (update,) = env.api.requests_of("update")
    assert update.path.endswith(f"/Calls/{sid}.json") and update.form == [("Status", "completed")]
    assert update.status == 404  # the fake does not know that call: "already ended" is success
    assert [(e.outcome, e.answered_by) for e in env.statuses_of(sid)] == [(CallOutcome.FAILED, "fax")]


async def test_sync_amd_fax_on_the_voice_webhook_hangs_up(env: TwilioEnv) -> None:
    sim = env.caller(direction="outbound-api", extra_fields={"AnsweredBy": "fax"})
    response = await sim.post_voice()
    assert response.status_code == 200 and "<Hangup/>" in response.text and "<Stream" not in response.text
    await asyncio.sleep(0)
    assert [e.outcome for e in env.statuses_of(sim.call_sid)] == [CallOutcome.FAILED]


async def test_voice_webhook_rejects_inbound_calls_busy_while_the_server_drains(env: TwilioEnv) -> None:
    host = env.phone._host
    assert host is not None
    await host.drain(timeout=1)  # shutdown began: no new calls on this instance
    response = await env.caller(from_="+15550001111").post_voice()
    assert response.status_code == 200
    assert response.text.endswith('<Response><Reject reason="busy"/></Response>')
    assert parse_stream_twiml(response.text) is None
