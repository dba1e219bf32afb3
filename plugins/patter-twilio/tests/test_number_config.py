"""``Twilio.configure_number`` against the fake REST API: read first, write only a difference, refuse
numbers Twilio would route elsewhere, log what was replaced -- and ``patter-core serve
--configure-number`` doing it from the command line."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from patter_twilio import Twilio
from patter_twilio.testing import FakeTwilioAPI

from patter_core.errors import CarrierError, ConfigurationError

NUMBER = "+15550001111"
HOST = "agent.example.com"
VOICE = f"https://{HOST}/webhooks/twilio/voice"
STATUS = f"https://{HOST}/webhooks/twilio/status"
OLD = "https://old-tunnel.trycloudflare.com/webhooks/twilio/voice"


@pytest.fixture
async def api() -> AsyncIterator[FakeTwilioAPI]:
    async with FakeTwilioAPI() as fake:
        yield fake


@pytest.fixture
async def twilio(api: FakeTwilioAPI) -> AsyncIterator[Twilio]:
    carrier = Twilio(account_sid=api.account_sid, auth_token=api.auth_token, base_url=api.base_url)
    yield carrier
    await carrier.aclose()


def expected_form(voice: str = VOICE) -> list[tuple[str, str]]:
    return [
        ("VoiceUrl", voice),
        ("VoiceMethod", "POST"),
        ("StatusCallback", STATUS),
        ("StatusCallbackMethod", "POST"),
    ]


async def test_a_number_that_already_points_here_is_not_written(api: FakeTwilioAPI, twilio: Twilio) -> None:
    api.add_number(NUMBER, voice_url=VOICE, voice_method="POST")
    assert await twilio.configure_number(NUMBER, HOST) is False
    (listed,) = api.requests_of("numbers")
    assert listed.method == "GET" and listed.auth_ok
    assert listed.path == f"/2010-04-01/Accounts/{api.account_sid}/IncomingPhoneNumbers.json"
    assert listed.query == [("PhoneNumber", NUMBER)]  # "+" sent as %2B: a raw "+" would read as a space
    assert api.requests_of("number-update") == []
    assert [r.method for r in api.requests] == ["GET"]


async def test_a_different_url_is_replaced_and_the_previous_one_logged(
    api: FakeTwilioAPI, twilio: Twilio, caplog: pytest.LogCaptureFixture
) -> None:
    number = api.add_number(NUMBER, voice_url=OLD, voice_method="POST", status_callback="https://old/status")
    with caplog.at_level(logging.INFO, logger="patter.twilio"):
        assert await twilio.configure_number(NUMBER, HOST) is True
    (update,) = api.requests_of("number-update")
    assert update.path == f"/2010-04-01/Accounts/{api.account_sid}/IncomingPhoneNumbers/{number.sid}.json"
    assert update.form == expected_form() and update.auth_ok and update.status == 200
    assert (number.voice_url, number.voice_method, number.status_callback) == (VOICE, "POST", STATUS)
    changed = [r for r in caplog.records if "voice URL changed" in r.getMessage()]
    assert len(changed) == 1 and changed[0].levelno == logging.WARNING
    assert OLD in changed[0].getMessage() and VOICE in changed[0].getMessage()
    assert "https://old/status" in changed[0].getMessage()
    assert api.auth_token not in caplog.text
    # the next start finds it configured: nothing is written again
    assert await twilio.configure_number(NUMBER, HOST) is False
    assert len(api.requests_of("number-update")) == 1


async def test_the_same_url_with_the_wrong_method_is_rewritten(api: FakeTwilioAPI, twilio: Twilio) -> None:
    number = api.add_number(NUMBER, voice_url=VOICE, voice_method="GET")
    assert await twilio.configure_number(NUMBER, HOST) is True
    assert api.requests_of("number-update")[0].form == expected_form()
    assert number.voice_method == "POST"


async def test_an_empty_number_is_configured(api: FakeTwilioAPI, twilio: Twilio) -> None:
    number = api.add_number(NUMBER)  # bought, never configured
    assert await twilio.configure_number(NUMBER, f"https://{HOST}/") is True  # a scheme is tolerated
    assert api.requests_of("number-update")[0].form == expected_form()
    assert number.voice_url == VOICE


async def test_query_parameters_on_our_voice_route_survive_a_host_change(
    api: FakeTwilioAPI, twilio: Twilio
) -> None:
    """Console query parameters reach the call as CallInfo.parameters: moving host must keep them."""
    api.add_number(NUMBER, voice_url=OLD + "?agent=sales&lang=fr")
    assert await twilio.configure_number(NUMBER, HOST) is True
    assert api.requests_of("number-update")[0].form == expected_form(VOICE + "?agent=sales&lang=fr")
    assert await twilio.configure_number(NUMBER, HOST) is False
    api.add_number("+15550003333", voice_url="https://elsewhere.example/hook?agent=x")  # not our route
    assert await twilio.configure_number("+15550003333", HOST) is True
    assert api.requests_of("number-update")[-1].form == expected_form()


async def test_credentials_in_the_previous_url_are_not_logged(
    api: FakeTwilioAPI, twilio: Twilio, caplog: pytest.LogCaptureFixture
) -> None:
    api.add_number(NUMBER, voice_url="https://admin:hunter2@old.example.com/voice")
    with caplog.at_level(logging.INFO, logger="patter.twilio"):
        assert await twilio.configure_number(NUMBER, HOST) is True
    assert "hunter2" not in caplog.text and "admin" not in caplog.text
    assert "https://***@old.example.com/voice" in caplog.text


async def test_an_unknown_number_names_the_number_and_the_account(api: FakeTwilioAPI, twilio: Twilio) -> None:
    api.add_number(NUMBER, voice_url=OLD)
    with pytest.raises(ConfigurationError) as refused:
        await twilio.configure_number("+1555000111", HOST)  # Twilio's partial match finds NUMBER
    message = str(refused.value)
    assert "+1555000111 is not a phone number of Twilio account AC0123" in message
    assert "PATTER_PHONE_NUMBER" in message and "TWILIO_ACCOUNT_SID" in message
    assert api.requests_of("number-update") == []


@pytest.mark.parametrize("voice_url", [VOICE, OLD])
async def test_a_number_on_a_twiml_app_is_refused_and_left_alone(
    api: FakeTwilioAPI, twilio: Twilio, voice_url: str
) -> None:
    app = "AP" + "1" * 32
    number = api.add_number(NUMBER, voice_url=voice_url, voice_application_sid=app)
    with pytest.raises(ConfigurationError) as refused:
        await twilio.configure_number(NUMBER, HOST)
    message = str(refused.value)
    assert f"TwiML App {app}" in message and "ignores its voice URL" in message
    assert "Configure with" in message and "Active numbers" in message
    assert api.requests_of("number-update") == [] and number.voice_application_sid == app


async def test_a_number_on_a_sip_trunk_is_refused_and_left_alone(api: FakeTwilioAPI, twilio: Twilio) -> None:
    trunk = "TK" + "2" * 32
    number = api.add_number(NUMBER, voice_url=OLD, trunk_sid=trunk)
    with pytest.raises(ConfigurationError, match=f"Elastic SIP Trunk {trunk}"):
        await twilio.configure_number(NUMBER, HOST)
    assert api.requests_of("number-update") == [] and number.trunk_sid == trunk


@pytest.mark.parametrize("bad", ["5550001111", "+0555", "+1 555 000 1111", ""])
async def test_a_number_not_in_e164_is_refused_before_any_request(
    api: FakeTwilioAPI, twilio: Twilio, bad: str
) -> None:
    with pytest.raises(ConfigurationError, match=r"E\.164"):
        await twilio.configure_number(bad, HOST)
    assert api.requests == []


async def test_refused_credentials_and_failed_writes_raise_carrier_errors(api: FakeTwilioAPI) -> None:
    number = api.add_number(NUMBER, voice_url=OLD)
    wrong = Twilio(account_sid=api.account_sid, auth_token="not-the-token", base_url=api.base_url)
    try:
        with pytest.raises(CarrierError) as refused:
            await wrong.configure_number(NUMBER, HOST)
    finally:
        await wrong.aclose()
    assert (refused.value.status, refused.value.code) == (401, "20003")
    twilio = Twilio(account_sid=api.account_sid, auth_token=api.auth_token, base_url=api.base_url)
    try:
        api.fail_next("number-update", 500, 20500, "Internal Server Error")
        with pytest.raises(CarrierError) as failed:
            await twilio.configure_number(NUMBER, HOST)
        assert failed.value.status == 500 and number.voice_url == OLD
        assert await twilio.configure_number(NUMBER, HOST) is True  # a retry by the user works
    finally:
        await twilio.aclose()


# -- patter-core serve --configure-number, in a real subprocess ----------------------------------------

APP = """
from patter_core.testing import FakeEngine

def make_agent(phone):
    return phone.agent(system_prompt="hi", engine=FakeEngine(), first_message="Hello.")
"""


def cli_env(api: FakeTwilioAPI, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The host's environment without any Patter or carrier setting, pointed at the fake."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PATTER_", "TWILIO_", "TELNYX_"))}
    env.update(
        PYTHONPATH=str(tmp_path),
        TWILIO_ACCOUNT_SID=api.account_sid,
        TWILIO_AUTH_TOKEN=api.auth_token,
        TWILIO_BASE_URL=api.base_url,
        **extra,
    )
    return env


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
    assert process.stdout is not None and process.stderr is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(30):
            while line := (await process.stdout.readline()).decode():
                lines.append(line)
                if "/ws/stream/" in line:
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


async def test_serve_configure_number_points_the_number_here_once(api: FakeTwilioAPI, tmp_path: Path) -> None:
    (tmp_path / "myapp.py").write_text(APP)
    number = api.add_number(NUMBER, voice_url=OLD)
    env = cli_env(api, tmp_path, PATTER_CARRIER="twilio", PATTER_PHONE_NUMBER=NUMBER, PATTER_WEBHOOK_URL=HOST)
    out, err = await serve_once(env, tmp_path)
    assert f"{NUMBER} now points here" in out, out + err
    assert VOICE in out  # the banner names the URL the number now points at
    assert number.voice_url == VOICE and api.requests_of("number-update")[0].form == expected_form()
    assert "voice URL changed from " + OLD in err  # the replaced value, on stderr by default
    assert api.auth_token not in out + err

    out, err = await serve_once(env, tmp_path)  # a restart does not write again
    assert f"{NUMBER} already points here" in out, out + err
    assert len(api.requests_of("number-update")) == 1 and len(api.requests_of("numbers")) == 2
