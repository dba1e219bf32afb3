"""``Twilio.check_credentials`` against the fake REST API, and ``patter-core doctor --carrier twilio``
reporting it: accepted, refused (401), a non-active account, errors, no answer at all."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from patter_twilio import Twilio
from patter_twilio.testing import FakeTwilioAPI

from patter_core.errors import CarrierError, ConfigurationError


@pytest.fixture
async def api() -> AsyncIterator[FakeTwilioAPI]:
    async with FakeTwilioAPI(account_name="Bella Hair Salon") as fake:
        yield fake


def carrier(api: FakeTwilioAPI, **kwargs: Any) -> Twilio:
    options: dict[str, Any] = dict(
        account_sid=api.account_sid, auth_token=api.auth_token, base_url=api.base_url
    )
    return Twilio(**{**options, **kwargs})


async def check(twilio: Twilio) -> str:
    try:
        return await twilio.check_credentials()
    finally:
        await twilio.aclose()


async def test_accepted_credentials_describe_the_account(api: FakeTwilioAPI) -> None:
    description = await check(carrier(api))
    assert description == "account AC0123...cdef, 'Bella Hair Salon' (active, Full)"
    (request,) = api.requests
    assert (request.method, request.path) == ("GET", f"/2010-04-01/Accounts/{api.account_sid}.json")
    assert request.auth_ok and request.status == 200 and request.form == []
    assert api.auth_token not in description  # the Account resource carries it; never read out


async def test_a_trial_account_is_accepted_with_its_limitation(api: FakeTwilioAPI) -> None:
    api.account_type = "Trial"
    description = await check(carrier(api))
    assert "(active, Trial)" in description and "only call verified numbers" in description


async def test_a_refused_token_is_a_401_carrier_error_that_names_the_fix(api: FakeTwilioAPI) -> None:
    with pytest.raises(CarrierError) as refused:
        await check(carrier(api, auth_token="wrong-token-123"))
    assert (refused.value.status, refused.value.code) == (401, "20003")
    assert "TWILIO_AUTH_TOKEN" in str(refused.value) and "wrong-token-123" not in str(refused.value)
    assert api.requests[0].auth_ok is False


@pytest.mark.parametrize("status", ["suspended", "closed"])
async def test_an_account_that_is_not_active_is_a_configuration_error(
    api: FakeTwilioAPI, status: str
) -> None:
    api.account_status = status
    with pytest.raises(ConfigurationError) as refused:
        await check(carrier(api))
    assert f"is {status}" in str(refused.value) and "Twilio Console" in str(refused.value)


async def test_an_api_error_keeps_its_status(api: FakeTwilioAPI) -> None:
    api.fail_next("account", 404, 20404, "The requested resource was not found")
    with pytest.raises(CarrierError) as missing:
        await check(carrier(api))
    assert (missing.value.status, missing.value.code) == (404, "20404")


async def test_no_answer_is_a_carrier_error_without_a_status() -> None:
    """Nothing listening, or a server that never answers: 'could not check', not 'refused'."""
    with pytest.raises(CarrierError) as closed:
        await check(Twilio(account_sid="AC" + "a" * 32, auth_token="t", base_url="http://127.0.0.1:9"))
    assert closed.value.status is None

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # read the request, never answer
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        twilio = Twilio(
            account_sid="AC" + "a" * 32,
            auth_token="t",
            base_url=f"http://127.0.0.1:{port}",
            request_timeout_s=0.3,
        )
        with pytest.raises(CarrierError) as timed_out:
            await check(twilio)
        assert timed_out.value.status is None and "Timeout" in str(timed_out.value)
    finally:
        server.close()


async def test_the_base_url_falls_back_to_twilio_base_url(
    api: FakeTwilioAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_BASE_URL", api.base_url)
    twilio = Twilio(account_sid=api.account_sid, auth_token=api.auth_token)
    assert twilio.base_url == api.base_url
    assert "Bella Hair Salon" in await check(twilio)
    monkeypatch.delenv("TWILIO_BASE_URL")
    assert Twilio(account_sid=api.account_sid, auth_token="t").base_url == "https://api.twilio.com"


# -- patter-core doctor --carrier twilio, in a real subprocess -----------------------------------------


async def doctor(api: FakeTwilioAPI, tmp_path: Path, *, token: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PATTER_", "TWILIO_", "TELNYX_"))}
    env.update(
        TWILIO_ACCOUNT_SID=api.account_sid,
        TWILIO_AUTH_TOKEN=token,
        TWILIO_BASE_URL=api.base_url,
        PATTER_CLOUDFLARED="patter-no-such-cloudflared",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "patter_core.cli",
        "doctor",
        "--carrier",
        "twilio",
        "--json",
        "--webhook-url",
        "127.0.0.1:9",  # a literal address: no DNS lookup, nothing to wait for
        "--port",
        "0",
        "--timeout",
        "5",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    report: dict[str, Any] = json.loads(out)
    report["stderr"] = err.decode()
    return report


async def test_doctor_reports_the_credential_check(api: FakeTwilioAPI, tmp_path: Path) -> None:
    report = await doctor(api, tmp_path, token=api.auth_token)
    checks = {c["check"]: c for c in report["checks"]}
    assert checks["carrier twilio"]["status"] == "ok", report
    credentials = checks["credentials twilio"]
    assert credentials["status"] == "ok", report
    assert credentials["summary"] == "accepted: account AC0123...cdef, 'Bella Hair Salon' (active, Full)"
    assert [(r.method, r.auth_ok) for r in api.requests_of("account")] == [("GET", True)]

    report = await doctor(api, tmp_path, token="a-wrong-token")
    credentials = {c["check"]: c for c in report["checks"]}["credentials twilio"]
    assert credentials["status"] == "fail" and "HTTP 401" in credentials["summary"], report
    assert "check the carrier keys" in credentials["fix"]
    assert report["ok"] is False and "a-wrong-token" not in json.dumps(report)
