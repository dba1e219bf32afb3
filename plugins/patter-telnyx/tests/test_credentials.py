"""``Telnyx.check_credentials`` against the fake API, and ``patter-core doctor --carrier telnyx``
reporting it: the application (key and id proven) or the balance, 401, 404 on the application, an
unusable application, no answer at all."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from patter_telnyx import Telnyx
from patter_telnyx.testing import TEST_PUBLIC_KEY, FakeCallControl, TelnyxSimulator

from patter_core.errors import CarrierError, ConfigurationError

APP_ID = "1293384261075731499"
WEBHOOK = "https://agent.example.com/webhooks/telnyx/voice"


@pytest.fixture
async def api() -> AsyncIterator[FakeCallControl]:
    fake = FakeCallControl(api_key="KEY0123456789")
    await fake.start()
    yield fake
    await fake.stop()


async def check(api: FakeCallControl, **kwargs: Any) -> str:
    carrier = Telnyx(**{"api_key": api.api_key, "base_url": api.base_url, **kwargs})
    try:
        return await carrier.check_credentials()
    finally:
        await carrier.aclose()


async def test_with_a_connection_id_the_application_is_read(api: FakeCallControl) -> None:
    api.add_application(APP_ID, application_name="call-router", webhook_event_url=WEBHOOK)
    description = await check(api, connection_id=APP_ID)
    assert description == f"Call Control Application {APP_ID} 'call-router', webhook {WEBHOOK}"
    (request,) = api.requests
    assert (request.method, request.path, request.status) == (
        "GET",
        f"/v2/call_control_applications/{APP_ID}",
        200,
    )
    assert request.authorized and request.action == "get_application"


async def test_without_a_connection_id_the_balance_is_read(api: FakeCallControl) -> None:
    description = await check(api)
    assert description.startswith("API key accepted (balance 300.00 USD)")
    assert "TELNYX_CONNECTION_ID is not set" in description
    assert [(r.method, r.path) for r in api.requests] == [("GET", "/v2/balance")]


async def test_a_refused_key_is_a_401_carrier_error(api: FakeCallControl) -> None:
    api.add_application(APP_ID)
    for connection_id in (APP_ID, None):
        with pytest.raises(CarrierError) as refused:
            await check(api, api_key="KEYwrong", connection_id=connection_id)
        assert (refused.value.status, refused.value.code) == (401, "10009")
        assert "TELNYX_API_KEY" in str(refused.value) and "KEYwrong" not in str(refused.value)


async def test_an_unknown_application_names_telnyx_connection_id(api: FakeCallControl) -> None:
    with pytest.raises(ConfigurationError) as wrong:
        await check(api, connection_id="42")
    assert "TELNYX_CONNECTION_ID=42 is not a Call Control Application" in str(wrong.value)


async def test_an_application_that_cannot_take_patters_calls_is_a_configuration_error(
    api: FakeCallControl,
) -> None:
    app = api.add_application(APP_ID, application_name="old", webhook_api_version="1")
    with pytest.raises(ConfigurationError, match="Set its API version to v2"):
        await check(api, connection_id=APP_ID)
    app.webhook_api_version, app.active = "2", False
    with pytest.raises(ConfigurationError, match="is not active"):
        await check(api, connection_id=APP_ID)


async def test_server_errors_are_retried_once_then_keep_their_status(api: FakeCallControl) -> None:
    api.add_application(APP_ID, application_name="call-router")
    api.fail("get_application", status=503, title="Service Unavailable")
    assert "call-router" in await check(api, connection_id=APP_ID)
    api.fail("get_application", status=500, times=2)
    with pytest.raises(CarrierError) as failed:
        await check(api, connection_id=APP_ID)
    assert failed.value.status == 500


async def test_no_answer_is_a_carrier_error_without_a_status() -> None:
    carrier = Telnyx(api_key="KEYx", connection_id=APP_ID, base_url="http://127.0.0.1:9/v2")
    try:
        with pytest.raises(CarrierError) as unreachable:
            await carrier.check_credentials()
    finally:
        await carrier.aclose()
    assert unreachable.value.status is None and "ConnectError" in str(unreachable.value)


async def test_the_simulator_knows_its_own_application() -> None:
    async with TelnyxSimulator() as sim:
        description = await check(sim.api, connection_id=sim.connection_id)
    assert description == (
        f"Call Control Application {sim.connection_id} 'Patter simulator', "
        f"webhook https://{sim.public_host}/webhooks/telnyx/voice"
    )


async def test_the_base_url_falls_back_to_telnyx_base_url(
    api: FakeCallControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELNYX_BASE_URL", api.base_url)
    carrier = Telnyx(api_key=api.api_key)
    try:
        assert carrier.base_url == api.base_url and "balance" in await carrier.check_credentials()
    finally:
        await carrier.aclose()
    monkeypatch.delenv("TELNYX_BASE_URL")
    assert Telnyx(api_key="k").base_url == "https://api.telnyx.com/v2"


# -- patter-core doctor --carrier telnyx, in a real subprocess -----------------------------------------


async def doctor(api: FakeCallControl, tmp_path: Path, *, key: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PATTER_", "TWILIO_", "TELNYX_"))}
    env.update(
        TELNYX_API_KEY=key,
        TELNYX_CONNECTION_ID=APP_ID,
        TELNYX_PUBLIC_KEY=TEST_PUBLIC_KEY,
        TELNYX_BASE_URL=api.base_url,
        PATTER_CLOUDFLARED="patter-no-such-cloudflared",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "patter_core.cli",
        "doctor",
        "--carrier",
        "telnyx",
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


async def test_doctor_reports_the_credential_check(api: FakeCallControl, tmp_path: Path) -> None:
    api.add_application(APP_ID, application_name="call-router", webhook_event_url=WEBHOOK)
    report = await doctor(api, tmp_path, key=api.api_key)
    checks = {c["check"]: c for c in report["checks"]}
    assert checks["carrier telnyx"]["status"] == "ok", report
    credentials = checks["credentials telnyx"]
    assert credentials["status"] == "ok", report
    assert (
        credentials["summary"]
        == f"accepted: Call Control Application {APP_ID} 'call-router', webhook {WEBHOOK}"
    )

    report = await doctor(api, tmp_path, key="KEYwrong")
    credentials = {c["check"]: c for c in report["checks"]}["credentials telnyx"]
    assert credentials["status"] == "fail" and "HTTP 401" in credentials["summary"], report
    assert report["ok"] is False and "KEYwrong" not in json.dumps(report)
