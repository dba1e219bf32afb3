"""Packaging, registration and construction: the contracts in DESIGN.md."""

from __future__ import annotations

import importlib_metadata
import pytest
from patter_telnyx import DEFAULT_BASE_URL, Telnyx
from patter_telnyx.testing import TEST_PUBLIC_KEY

from patter_core.errors import ConfigurationError, MissingCredentialError
from patter_core.registry import Registry


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TELNYX_API_KEY", "TELNYX_CONNECTION_ID", "TELNYX_PUBLIC_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_the_entry_point_registers_carrier_telnyx(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = [ep for ep in importlib_metadata.entry_points(group="patter") if ep.name == "telnyx"]
    assert [ep.value for ep in eps] == ["patter_telnyx._hooks"]
    assert eps[0].dist is not None and eps[0].dist.name == "patter-telnyx"
    registry = Registry.build()
    (info,) = [p for p in registry.plugins if p.name == "patter-telnyx"]
    assert info.ok, info.error
    entry = registry.get("carrier", "telnyx")
    assert entry.factory is Telnyx
    assert entry.metadata["env"] == ["TELNYX_API_KEY", "TELNYX_CONNECTION_ID", "TELNYX_PUBLIC_KEY"]
    monkeypatch.setenv("TELNYX_API_KEY", "k")
    carrier = registry.create("carrier", "telnyx", base_url="http://127.0.0.1:9/v2", codec="PCMU")
    assert (
        isinstance(carrier, Telnyx)
        and carrier.name == "telnyx"
        and carrier.base_url == "http://127.0.0.1:9/v2"
    )


def test_missing_api_key_names_the_fix() -> None:
    with pytest.raises(
        MissingCredentialError, match="TELNYX_API_KEY is not set: pass api_key= or set the TELNYX_API_KEY"
    ):
        Telnyx()


def test_environment_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELNYX_API_KEY", "env-key")
    monkeypatch.setenv("TELNYX_CONNECTION_ID", "conn-1")
    monkeypatch.setenv("TELNYX_PUBLIC_KEY", TEST_PUBLIC_KEY)
    carrier = Telnyx()
    assert carrier.connection_id == "conn-1" and carrier.base_url == DEFAULT_BASE_URL
    assert carrier.webhooks.verifier is not None
    carrier.check_ready(verify_webhooks=True)
    assert "env-key" not in repr(carrier)


def test_check_ready_refuses_without_a_public_key_unless_verification_is_off() -> None:
    carrier = Telnyx(api_key="k")
    with pytest.raises(ConfigurationError, match=r"TELNYX_PUBLIC_KEY is not set.*verify_webhooks=False"):
        carrier.check_ready(verify_webhooks=True)
    carrier.check_ready(verify_webhooks=False)


def test_bad_public_key_and_base_url_fail_early() -> None:
    with pytest.raises(ConfigurationError, match="TELNYX_PUBLIC_KEY"):
        Telnyx(api_key="k", public_key="garbage")
    with pytest.raises(ConfigurationError, match="base_url"):
        Telnyx(api_key="k", base_url="api.telnyx.com/v2")


def test_capabilities() -> None:
    caps = Telnyx.capabilities
    assert caps.marks and caps.dtmf_in and caps.dtmf_out and caps.outbound_calls
    assert caps.transfer and caps.warm_transfer and caps.recording and caps.machine_detection


async def test_dialing_needs_a_connection_id() -> None:
    from patter_core.interfaces.carrier import OutboundCallRequest

    carrier = Telnyx(api_key="k")
    with pytest.raises(ConfigurationError, match="TELNYX_CONNECTION_ID is not set"):
        await carrier.place_call(OutboundCallRequest(to="+15550001111", from_="+15550002222"), None)  # type: ignore[arg-type]
