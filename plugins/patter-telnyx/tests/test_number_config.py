"""``Telnyx.configure_number`` against the fake API: the number must be on TELNYX_CONNECTION_ID's
application (never reassigned), the application's webhook is read first and written only when it
differs, the replaced URL is logged -- and ``patter-core serve --configure-number`` doing it."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from patter_telnyx import Telnyx
from patter_telnyx.testing import TEST_PUBLIC_KEY, FakeCallControl

from patter_core.errors import CarrierError, ConfigurationError

NUMBER = "+15550001111"
HOST = "agent.example.com"
WEBHOOK = f"https://{HOST}/webhooks/telnyx/voice"
OLD = "https://old-tunnel.trycloudflare.com/webhooks/telnyx/voice"
APP_ID = "1293384261075731499"


@pytest.fixture
async def api() -> AsyncIterator[FakeCallControl]:
    fake = FakeCallControl(api_key="KEY0123456789")
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def telnyx(api: FakeCallControl) -> AsyncIterator[Telnyx]:
    carrier = Telnyx(api_key=api.api_key, connection_id=APP_ID, base_url=api.base_url)
    yield carrier
    await carrier.aclose()


def of(api: FakeCallControl, action: str) -> list[tuple[str, int]]:
    return [(r.method, r.status) for r in api.requests if r.action == action]


async def test_an_application_that_already_points_here_is_not_written(
    api: FakeCallControl, telnyx: Telnyx
) -> None:
    api.add_application(APP_ID, application_name="call-router", webhook_event_url=WEBHOOK)
    api.add_number(NUMBER, connection_id=APP_ID)
    assert await telnyx.configure_number(NUMBER, HOST) is False
    lookup, fetch = api.requests
    assert (lookup.method, lookup.path.split("?")[0], lookup.action) == (
        "GET",
        "/v2/phone_numbers",
        "phone_numbers",
    )
    assert lookup.query == {"filter[phone_number]": "15550001111"}  # digits only, as Telnyx requires
    assert (fetch.method, fetch.path, fetch.authorized) == (
        "GET",
        f"/v2/call_control_applications/{APP_ID}",
        True,
    )
    assert of(api, "update_application") == []


async def test_a_different_webhook_is_replaced_the_old_one_logged_and_the_scope_warned(
    api: FakeCallControl, telnyx: Telnyx, caplog: pytest.LogCaptureFixture
) -> None:
    app = api.add_application(APP_ID, application_name="call-router", webhook_event_url=OLD)
    api.add_number(NUMBER, connection_id=APP_ID)
    with caplog.at_level(logging.INFO, logger="patter.telnyx"):
        assert await telnyx.configure_number(NUMBER, HOST) is True
    (update,) = [r for r in api.requests if r.action == "update_application"]
    assert (update.method, update.path, update.status) == (
        "PATCH",
        f"/v2/call_control_applications/{APP_ID}",
        200,
    )
    assert update.body == {"application_name": "call-router", "webhook_event_url": WEBHOOK}
    assert app.webhook_event_url == WEBHOOK and app.application_name == "call-router"
    (changed,) = [r for r in caplog.records if "webhook changed" in r.getMessage()]
    assert changed.levelno == logging.WARNING
    message = changed.getMessage()
    assert OLD in message and WEBHOOK in message and "every number on the application" in message
    assert api.api_key not in caplog.text
    # the next start finds it configured: nothing is written again
    assert await telnyx.configure_number(NUMBER, HOST) is False
    assert len(app.updates) == 1


async def test_credentials_in_the_previous_url_are_not_logged(
    api: FakeCallControl, telnyx: Telnyx, caplog: pytest.LogCaptureFixture
) -> None:
    api.add_application(APP_ID, webhook_event_url="https://ops:s3cret@old.example.com/hook")
    api.add_number(NUMBER, connection_id=APP_ID)
    with caplog.at_level(logging.INFO, logger="patter.telnyx"):
        assert await telnyx.configure_number(NUMBER, f"https://{HOST}/") is True  # a scheme is tolerated
    assert "s3cret" not in caplog.text and "https://***@old.example.com/hook" in caplog.text


async def test_a_number_on_another_application_is_never_reassigned(
    api: FakeCallControl, telnyx: Telnyx
) -> None:
    api.add_application(APP_ID, webhook_event_url=OLD)
    other = api.add_application("999", application_name="staging", webhook_event_url=OLD)
    number = api.add_number(NUMBER, connection_id=other.id)
    with pytest.raises(ConfigurationError) as refused:
        await telnyx.configure_number(NUMBER, HOST)
    message = str(refused.value)
    assert f"belongs to connection 999, not to TELNYX_CONNECTION_ID={APP_ID}" in message
    assert "does not move numbers" in message and "TELNYX_CONNECTION_ID=999" in message
    assert number.connection_id == "999" and other.updates == []
    assert [r.action for r in api.requests] == ["phone_numbers"]  # no application read or written


async def test_an_unassigned_number_is_refused(api: FakeCallControl, telnyx: Telnyx) -> None:
    api.add_application(APP_ID, webhook_event_url=OLD)
    api.add_number(NUMBER)
    with pytest.raises(ConfigurationError, match="not assigned to any Call Control Application"):
        await telnyx.configure_number(NUMBER, HOST)
    assert of(api, "update_application") == []


async def test_an_unknown_number_is_refused(api: FakeCallControl, telnyx: Telnyx) -> None:
    api.add_application(APP_ID, webhook_event_url=OLD)
    api.add_number("+155500011119", connection_id=APP_ID)  # contains our digits: a partial match only
    with pytest.raises(ConfigurationError) as refused:
        await telnyx.configure_number(NUMBER, HOST)
    assert f"{NUMBER} is not a phone number of this Telnyx account" in str(refused.value)
    assert "PATTER_PHONE_NUMBER" in str(refused.value)


async def test_a_wrong_connection_id_names_the_variable(api: FakeCallControl, telnyx: Telnyx) -> None:
    api.add_number(NUMBER, connection_id=APP_ID)  # the number says APP_ID, but no such application
    with pytest.raises(ConfigurationError) as refused:
        await telnyx.configure_number(NUMBER, HOST)
    assert f"TELNYX_CONNECTION_ID={APP_ID} is not a Call Control Application" in str(refused.value)


async def test_a_v1_or_inactive_application_is_refused_before_writing(
    api: FakeCallControl, telnyx: Telnyx
) -> None:
    app = api.add_application(APP_ID, webhook_event_url=OLD, webhook_api_version="1")
    api.add_number(NUMBER, connection_id=APP_ID)
    with pytest.raises(ConfigurationError, match="API v1 webhooks"):
        await telnyx.configure_number(NUMBER, HOST)
    app.webhook_api_version, app.active = "2", False
    with pytest.raises(ConfigurationError, match="is not active"):
        await telnyx.configure_number(NUMBER, HOST)
    assert app.updates == []


async def test_without_a_connection_id_nothing_is_requested(api: FakeCallControl) -> None:
    carrier = Telnyx(api_key=api.api_key, base_url=api.base_url)
    try:
        with pytest.raises(ConfigurationError, match="TELNYX_CONNECTION_ID is not set"):
            await carrier.configure_number(NUMBER, HOST)
        with pytest.raises(ConfigurationError, match=r"E\.164"):
            await Telnyx(api_key=api.api_key, connection_id=APP_ID, base_url=api.base_url).configure_number(
                "5550001111", HOST
            )
    finally:
        await carrier.aclose()
    assert api.requests == []


async def test_refused_keys_and_failed_writes_raise_carrier_errors(api: FakeCallControl) -> None:
    app = api.add_application(APP_ID, webhook_event_url=OLD)
    api.add_number(NUMBER, connection_id=APP_ID)
    wrong = Telnyx(api_key="KEYwrong", connection_id=APP_ID, base_url=api.base_url)
    try:
        with pytest.raises(CarrierError) as refused:
            await wrong.configure_number(NUMBER, HOST)
    finally:
        await wrong.aclose()
    assert refused.value.status == 401 and "TELNYX_API_KEY" in str(refused.value)
    carrier = Telnyx(api_key=api.api_key, connection_id=APP_ID, base_url=api.base_url)
    try:
        api.fail("update_application", status=403, code="10010", title="Forbidden")
        with pytest.raises(CarrierError) as forbidden:
            await carrier.configure_number(NUMBER, HOST)
        assert forbidden.value.status == 403 and app.webhook_event_url == OLD
        api.fail("update_application", status=503, title="Service Unavailable")  # retried once
        assert await carrier.configure_number(NUMBER, HOST) is True
    finally:
        await carrier.aclose()
    assert of(api, "update_application") == [("PATCH", 403), ("PATCH", 503), ("PATCH", 200)]


# -- patter-core serve --configure-number, in a real subprocess ----------------------------------------

APP = """
from patter_core.testing import FakeEngine

def make_agent(phone):
    return phone.agent(system_prompt="hi", engine=FakeEngine(), first_message="Hello.")
"""


async def serve_once(env: dict[str, str], cwd: Path) -> tuple[str, str]:
    """Run ``serve --configure-number`` until its banner is printed, then stop it with SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "patter_core.cli",
        "serve",
        "myapp:make_agent",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--configure-number",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    lines: list[str] = []
    errors = b""
    try:
        async with asyncio.timeout(30):
            while line := (await process.stdout.readline()).decode():
                lines.append(line)
                if "/ws/telnyx/stream/" in line:
                    break
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            rest, errors = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, "".join(lines) + errors.decode()
    return "".join(lines) + rest.decode(), errors.decode()


async def test_serve_configure_number_points_the_application_here_once(
    api: FakeCallControl, tmp_path: Path
) -> None:
    (tmp_path / "myapp.py").write_text(APP)
    app = api.add_application(APP_ID, application_name="call-router", webhook_event_url=OLD)
    api.add_number(NUMBER, connection_id=APP_ID)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PATTER_", "TWILIO_", "TELNYX_"))}
    env.update(
        PYTHONPATH=str(tmp_path),
        TELNYX_API_KEY=api.api_key,
        TELNYX_CONNECTION_ID=APP_ID,
        TELNYX_PUBLIC_KEY=TEST_PUBLIC_KEY,
        TELNYX_BASE_URL=api.base_url,
        PATTER_CARRIER="telnyx",
        PATTER_PHONE_NUMBER=NUMBER,
        PATTER_WEBHOOK_URL=HOST,
    )
    out, err = await serve_once(env, tmp_path)
    assert f"{NUMBER} now points here" in out, out + err
    assert WEBHOOK in out  # the banner names the URL the application now uses
    assert app.webhook_event_url == WEBHOOK
    assert app.updates == [{"application_name": "call-router", "webhook_event_url": WEBHOOK}]
    assert "webhook changed from " + OLD in err and "every number on the application" in err
    assert api.api_key not in out + err

    out, err = await serve_once(env, tmp_path)  # a restart does not write again
    assert f"{NUMBER} already points here" in out, out + err
    assert len(app.updates) == 1
