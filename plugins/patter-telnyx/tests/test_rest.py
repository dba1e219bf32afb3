"""The Call Control client against the fake API: paths, bodies, command ids, errors, retries."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator

import pytest
from patter_telnyx import TelnyxAPI, TelnyxAPIError
from patter_telnyx.rest import decode_client_state, encode_client_state
from patter_telnyx.testing import FakeCallControl

from patter_core.errors import CarrierError

CALL = "v3:T02llQx/IyaRk+hf=="


@pytest.fixture
async def api() -> AsyncIterator[FakeCallControl]:
    fake = FakeCallControl(api_key="KEY123")
    await fake.start()
    fake.register_call(CALL)
    yield fake
    await fake.stop()


async def test_commands_are_bearer_json_with_a_command_id_and_an_encoded_path(api: FakeCallControl) -> None:
    client = TelnyxAPI(api_key="KEY123", base_url=api.base_url)
    assert await client.command(CALL, "send_dtmf", {"digits": "12#"}) == {"result": "ok"}
    await client.aclose()
    (request,) = api.requests
    assert request.path == "/v2/calls/v3%3AT02llQx%2FIyaRk%2Bhf%3D%3D/actions/send_dtmf"
    assert request.call_control_id == CALL and request.authorized
    assert request.body["digits"] == "12#" and len(request.body["command_id"]) == 36


async def test_dial_returns_the_new_call(api: FakeCallControl) -> None:
    client = TelnyxAPI(api_key="KEY123", base_url=api.base_url)
    data = await client.dial({"connection_id": "c", "to": "+15550001111", "from": "+15550002222"})
    await client.aclose()
    assert data["call_control_id"].startswith("v3:") and data["is_alive"] is False
    assert api.requests[0].body["command_id"]


async def test_already_ended_is_code_90018(api: FakeCallControl) -> None:
    api.end(CALL)
    client = TelnyxAPI(api_key="KEY123", base_url=api.base_url)
    with pytest.raises(TelnyxAPIError) as caught:
        await client.command(CALL, "hangup", {})
    await client.aclose()
    assert caught.value.call_ended and caught.value.status == 422 and caught.value.code == "90018"
    assert "Call has already ended" in str(caught.value)


async def test_bad_key_names_the_fix_and_never_shows_the_key(
    api: FakeCallControl, caplog: pytest.LogCaptureFixture
) -> None:
    client = TelnyxAPI(api_key="WRONG-SECRET-KEY", base_url=api.base_url)
    with caplog.at_level(logging.DEBUG), pytest.raises(CarrierError) as caught:
        await client.command(CALL, "hangup", {})
    await client.aclose()
    assert caught.value.status == 401 and "TELNYX_API_KEY" in str(caught.value)
    assert "WRONG-SECRET-KEY" not in str(caught.value) + caplog.text + repr(client)


async def test_validation_errors_carry_code_and_detail(api: FakeCallControl) -> None:
    client = TelnyxAPI(api_key="KEY123", base_url=api.base_url)
    with pytest.raises(TelnyxAPIError) as caught:
        await client.command(CALL, "transfer", {})
    await client.aclose()
    assert caught.value.status == 422 and "'to' parameter is required" in str(caught.value)


async def test_a_5xx_is_retried_once_with_the_same_command_id(api: FakeCallControl) -> None:
    api.fail("answer", status=503)
    client = TelnyxAPI(api_key="KEY123", base_url=api.base_url, retry_delay_s=0)
    await client.command(CALL, "answer", {})
    first, second = api.requests
    assert (first.status, second.status) == (503, 200)
    assert first.body["command_id"] == second.body["command_id"]
    api.fail("hangup", status=500, times=2)
    with pytest.raises(TelnyxAPIError) as caught:
        await client.command(CALL, "hangup", {})
    assert caught.value.status == 500
    await client.aclose()


async def test_a_repeated_command_id_is_ignored_by_telnyx(api: FakeCallControl) -> None:
    client = TelnyxAPI(api_key="KEY123", base_url=api.base_url)
    await client.command(CALL, "answer", {"command_id": "same"})
    await client.command(CALL, "answer", {"command_id": "same"})
    await client.aclose()
    assert len(api.commands("answer")) == 1 and api.requests[1].duplicate


async def test_transport_errors_become_carrier_errors() -> None:
    client = TelnyxAPI(api_key="k", base_url="http://127.0.0.1:9/v2", retry_delay_s=0)
    with pytest.raises(CarrierError, match="Telnyx hangup failed"):
        await client.command(CALL, "hangup", {})
    await client.aclose()


def test_client_state_round_trip_and_foreign_states() -> None:
    encoded = encode_client_state({"d": "out", "amd": "detect"})
    assert decode_client_state(encoded) == {"d": "out", "amd": "detect"}
    assert decode_client_state("aGF2ZSBhIG5pY2UgZGF5ID1d") == {}  # someone else's client_state
    assert decode_client_state(None) == {} and decode_client_state("***") == {}
    deep = base64.b64encode(b"[" * 3000).decode()
    assert decode_client_state(deep) == {}
