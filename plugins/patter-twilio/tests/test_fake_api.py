"""The fake Twilio REST API itself: auth, validation, signed callbacks, fault injection."""

from __future__ import annotations

import httpx
from patter_twilio.signature import SignatureValidator
from patter_twilio.testing import FakeTwilioAPI
from patter_twilio.testing.harness import WEBHOOK_HOST, TwilioEnv


async def test_basic_auth_and_validation() -> None:
    async with FakeTwilioAPI() as api:
        calls = f"{api.base_url}/2010-04-01/Accounts/{api.account_sid}/Calls.json"
        async with httpx.AsyncClient() as client:
            unauth = await client.post(calls, data={"To": "+1", "From": "+2", "Url": "https://x"})
            wrong = await client.post(calls, data={"To": "+1"}, auth=(api.account_sid, "nope"))
            other_account = await client.post(
                calls.replace(api.account_sid, "AC" + "f" * 32),
                data={},
                auth=(api.account_sid, api.auth_token),
            )
            auth = (api.account_sid, api.auth_token)
            no_to = await client.post(calls, data={"From": "+2", "Url": "https://x"}, auth=auth)
            no_from = await client.post(calls, data={"To": "+1", "Url": "https://x"}, auth=auth)
            no_url = await client.post(calls, data={"To": "+1", "From": "+2"}, auth=auth)
            missing = await client.get(calls.replace("Calls.json", "Calls/CAnope.json"), auth=auth)
        assert (unauth.status_code, unauth.json()["code"]) == (401, 20003)
        assert unauth.json()["more_info"] == "https://www.twilio.com/docs/errors/20003"
        assert (wrong.status_code, other_account.status_code) == (401, 401)
        assert [r.json()["code"] for r in (no_to, no_from, no_url)] == [21201, 21213, 21205]
        assert (missing.status_code, missing.json()["code"]) == (404, 20404)
        assert [r.auth_ok for r in api.requests] == [False, False, False, True, True, True, True]
        assert api.calls == {}


async def test_callbacks_are_signed_like_twilio(env: TwilioEnv) -> None:
    outbound = await env.phone.call("+15557654321")
    await outbound.outcome(timeout=5)
    validator = SignatureValidator(env.api.auth_token)
    assert env.api.callbacks
    for callback in env.api.callbacks:
        from patter_twilio.signature import compute_signature

        assert callback.url.startswith(f"https://{WEBHOOK_HOST}/")
        assert validator.validate(
            callback.url,
            compute_signature(callback.url, callback.form, env.api.auth_token),
            params=callback.form,
        )
    sequence = [cb.form["SequenceNumber"] for cb in env.api.callbacks if "SequenceNumber" in cb.form]
    assert sequence == [str(i) for i in range(len(sequence))]
    (fetch,) = [r for r in env.api.requests if r.method == "GET"] or [None]
    assert fetch is None  # the carrier never needs to poll


async def test_fault_injection_and_fetch(env: TwilioEnv) -> None:
    env.api.fail_next("create", 503, 20503, "Service Unavailable")
    async with httpx.AsyncClient() as client:
        auth = (env.api.account_sid, env.api.auth_token)
        root = f"{env.api.base_url}/2010-04-01/Accounts/{env.api.account_sid}"
        failed = await client.post(
            f"{root}/Calls.json", data={"To": "+15557654321", "From": "+1", "Twiml": "<Response/>"}, auth=auth
        )
        created = await client.post(
            f"{root}/Calls.json", data={"To": "+15557654321", "From": "+1", "Twiml": "<Response/>"}, auth=auth
        )
        sid = created.json()["sid"]
        fetched = await client.get(f"{root}/Calls/{sid}.json", auth=auth)
    assert (failed.status_code, failed.json()["code"]) == (503, 20503)
    assert created.status_code == 201 and created.json()["status"] == "queued" and sid.startswith("CA")
    assert fetched.json()["sid"] == sid and fetched.json()["direction"] == "outbound-api"
    assert [r.status for r in env.api.requests_of("create")] == [503, 201]
    assert env.api.requests_of("fetch")[0].status == 200
