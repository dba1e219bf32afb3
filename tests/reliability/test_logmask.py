"""Privacy in logs: phone numbers, credentials and call tokens never appear in any log line.

The masking is on by default (``import patter_core`` installs it); a whole call is run with every
logger at DEBUG -- the core, a provider plugin against its fake (whose WebSocket library logs request
headers at DEBUG), the server -- and the captured text is searched for each secret.
"""

from __future__ import annotations

import contextlib
import json
import logging

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from patter_core import logmask
from patter_core.logmask import mask
from patter_core.testing import FakeChannel, start_call

CALLER, CALLEE, DESK = "+15551234567", "+442071838750", "+15557654321"
API_KEY = "sk-proj-Zx9qT4mLw8vB2nR7kP3sD6fH"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("from +15551234567 to +442071838750", "from +1555***4567 to +4420***8750"),
        ("To=%2B15551234567&From=%2b15550001111", "To=%2B1555***4567&From=%2b1555***1111"),
        ("transferred to +1 (555) 123-4567", "transferred to +1555***4567"),
        ("caller said: call me back at 555-123-4567", "caller said: call me back at 555***4567"),
        ("Authorization: Bearer sk-proj-abcdefghijklmnop", "Authorization: Bearer ***"),
        ("Authorization: Token 0123456789abcdef0123456789abcdef01234567", "Authorization: Token ***"),
        ('{"xi-api-key": "sk_0123456789abcdef0123"}', '{"xi-api-key": "***"}'),
        ("GET /listen?token=abc123secret&model=nova-3", "GET /listen?token=***&model=nova-3"),
        ("auth token 0123456789abcdef0123456789abcdef", "auth token ***"),
        ("stream token v1.eyJjaWQiOiJDQTEifQ.c2lnbmF0dXJlLWJ5dGVz", "stream token v1.***"),
        ("key KEY0190ABCDEF_abcdefghijklmnopqrst", "key KEY***"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLWJ5dGVz", "jwt eyJ***"),
    ],
)
def test_mask(raw: str, masked: str) -> None:
    assert mask(raw) == masked


@pytest.mark.parametrize(
    "kept",
    [
        "call CA0123456789abcdef0123456789abcdef ended",  # Twilio call ids stay readable
        "call v3:abcDEF_123-xyz started",  # Telnyx call control ids too
        "dropped 1700000000123 bytes after 20 ms",
        "on 2026-11-25 at 10:30, version 1.2.3, host 10.123.45.67",
        "bad signature",
        "the token expired",
        "+1555***4567",  # already masked stays as it is
    ],
)
def test_what_is_not_a_secret_is_kept(kept: str) -> None:
    assert mask(kept) == kept


def test_tracebacks_are_masked_too(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    try:
        raise RuntimeError(f"cannot reach {CALLER} with {API_KEY}")
    except RuntimeError:
        logging.getLogger("patter.test").exception("call failed for %s", CALLER)
    assert CALLER not in caplog.text and API_KEY not in caplog.text
    assert "+1555***4567" in caplog.text


def test_the_opt_out(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logmask.uninstall()
    try:
        logging.getLogger("patter.test").info("debugging a carrier: %s", CALLER)
    finally:
        assert logmask.install()
    logging.getLogger("patter.test").info("back to masked: %s", CALLER)
    assert f"debugging a carrier: {CALLER}" in caplog.text
    assert "back to masked: +1555***4567" in caplog.text


async def test_a_whole_call_logs_no_number_or_secret(
    served, caplog: pytest.LogCaptureFixture, no_leaks
) -> None:
    caplog.set_level(logging.DEBUG)
    caller = await served.call(caller=CALLER)
    await caller.wait_for(lambda: caller.heard_ms >= 200)
    await caller.hang_up()
    await served.wait_records(1)
    # a forged stream with a token for another call, and a failed webhook mentioning numbers
    token = served.phone.tokens.issue("CAother", caller=CALLER)
    with contextlib.suppress(InvalidStatus):  # other carriers refuse the fake's path at the upgrade
        async with connect(f"ws://127.0.0.1:{served.phone.port}/ws/fake/stream/CAx") as ws:
            await ws.send(json.dumps({"event": "start", "call_id": "CAx", "token": token}))
            await ws.wait_closed()
    logging.getLogger("patter.server").warning("webhook for %s rejected, token %s", CALLER, token)
    text = caplog.text
    assert text  # there is something to search
    for secret in (CALLER, CALLER.removeprefix("+"), token, served.phone.tokens.issue("CAy")[:20]):
        assert secret not in text


async def test_a_provider_plugin_logs_no_key_even_at_debug(
    caplog: pytest.LogCaptureFixture, no_leaks
) -> None:
    openai = pytest.importorskip("patter_openai")
    from patter_openai.testing import FakeRealtimeServer

    from patter_core.agent import Agent
    from patter_core.testing import FakeCarrier

    caplog.set_level(logging.DEBUG)
    async with FakeRealtimeServer(api_key=API_KEY, pace=0) as fake:
        engine = openai.OpenAIRealtime(api_key=API_KEY, base_url=fake.base_url)
        agent = Agent(
            system_prompt="x", engine=engine, first_message="Hello!", transfer_destinations={"desk": DESK}
        )
        channel = FakeChannel()
        call = start_call(agent, channel, carrier=FakeCarrier())
        await channel.wait_for(lambda: channel.played_ms >= 100)
        channel.hang_up()
        await call.finish()
    assert "Authorization" in caplog.text or "session open" in caplog.text
    assert API_KEY not in caplog.text and API_KEY[8:] not in caplog.text
    assert DESK not in caplog.text
