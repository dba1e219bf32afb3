"""The plugin registers the ``twilio`` carrier; the constructor's credentials and checks."""

from __future__ import annotations

import importlib_metadata
import pytest
from patter_twilio import Twilio, _hooks
from patter_twilio.testing import DEFAULT_ACCOUNT_SID

from patter_core.audio import MULAW_8K
from patter_core.errors import ConfigurationError, MissingCredentialError
from patter_core.plugins import PatterPluginManager
from patter_core.registry import Registry


def test_hooks_register_the_contract_name() -> None:
    pm = PatterPluginManager()
    info = pm.add_plugin(_hooks, name="patter-twilio")
    assert info.ok, info.error
    registry = Registry(pm)
    entry = registry.get("carrier", "twilio")
    assert entry.factory is Twilio
    assert entry.metadata["env"] == ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"]
    carrier = registry.create(
        "carrier", "twilio", account_sid=DEFAULT_ACCOUNT_SID, auth_token="t", base_url="http://127.0.0.1:9/"
    )
    assert isinstance(carrier, Twilio) and carrier.base_url == "http://127.0.0.1:9"


def test_entry_point_is_declared() -> None:
    eps = [ep for ep in importlib_metadata.entry_points(group="patter") if ep.name == "twilio"]
    assert [ep.value for ep in eps] == ["patter_twilio._hooks"]
    assert eps[0].dist is not None and eps[0].dist.name == "patter-twilio"


def test_credentials_fall_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", DEFAULT_ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "from-env")
    carrier = Twilio()
    assert carrier.account_sid == DEFAULT_ACCOUNT_SID and carrier.base_url == "https://api.twilio.com"
    assert carrier.validator.validate(
        "https://x.test/", __import__("patter_twilio").compute_signature("https://x.test/", None, "from-env")
    )


def test_missing_credentials_name_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    with pytest.raises(
        MissingCredentialError,
        match=r"TWILIO_ACCOUNT_SID is not set: pass account_sid= or set the TWILIO_ACCOUNT_SID",
    ):
        Twilio(auth_token="t")
    with pytest.raises(
        MissingCredentialError,
        match=r"TWILIO_AUTH_TOKEN is not set: pass auth_token= or set the TWILIO_AUTH_TOKEN",
    ):
        Twilio(account_sid=DEFAULT_ACCOUNT_SID)
    with pytest.raises(MissingCredentialError):
        Twilio(account_sid=DEFAULT_ACCOUNT_SID, auth_token="  ")


def test_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="Account SID"):
        Twilio(account_sid="SK" + "0" * 32, auth_token="t")
    with pytest.raises(ConfigurationError, match="base_url"):
        Twilio(account_sid=DEFAULT_ACCOUNT_SID, auth_token="t", base_url="api.twilio.com")
    with pytest.raises(ConfigurationError, match="stream_signature"):
        Twilio(account_sid=DEFAULT_ACCOUNT_SID, auth_token="t", stream_signature="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="recording_channels"):
        Twilio(account_sid=DEFAULT_ACCOUNT_SID, auth_token="t", recording_channels="stereo")


def test_capabilities_and_wire_format() -> None:
    carrier = Twilio(account_sid=DEFAULT_ACCOUNT_SID, auth_token="secret-token")
    caps = carrier.capabilities
    assert (caps.marks, caps.dtmf_in, caps.dtmf_out) == (True, True, False)
    assert (
        caps.outbound_calls,
        caps.transfer,
        caps.warm_transfer,
        caps.recording,
        caps.machine_detection,
    ) == (True,) * 5
    assert carrier.wire_format == MULAW_8K and carrier.name == "twilio"
    assert "secret-token" not in repr(carrier) and "secret-token" not in repr(carrier.rest)
    with pytest.raises(ConfigurationError, match="not mounted"):
        _ = carrier.host


async def test_the_registered_simulator_runs_a_call_over_twilios_protocol() -> None:
    import asyncio

    from patter_core.phone import Patter
    from patter_core.testing import FakeEngine
    from patter_core.testing.simulation import load_simulator

    pm = PatterPluginManager()
    pm.add_plugin(_hooks, name="patter-twilio")
    registry = Registry(pm)
    name, simulator_class = load_simulator(registry, "twilio")
    assert name == "twilio" and simulator_class.__name__ == "TwilioSimulator"
    engine = FakeEngine()
    async with simulator_class(webhook_host="simulated.patter.test") as sim:
        phone = Patter(
            carrier=sim.carrier, phone_number="+15550002222", webhook_url=sim.webhook_host, registry=registry
        )
        agent = phone.agent(system_prompt="hi", engine=engine, first_message="Hello there.")
        task = asyncio.create_task(phone.serve(agent, host="127.0.0.1", port=0))
        await phone.wait_ready()
        caller = await sim.call(f"http://127.0.0.1:{phone.port}", realtime=True)
        await caller.wait_for(lambda: caller.heard_ms >= 300)
        assert all(size == 160 for size in caller.frame_sizes) and caller.protocol_errors == []
        await caller.hang_up()
        await phone.stop()
        await asyncio.wait_for(task, 20)
    assert engine.session.config.call.carrier == "twilio"
