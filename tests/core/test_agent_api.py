"""Public API validation: Agent, phone.agent name resolution, Patter, guardrails."""

from __future__ import annotations

import pytest

from patter_core.agent import Agent, build_agent
from patter_core.errors import ConfigurationError, UnknownProviderError
from patter_core.guardrails import check_all, guardrail
from patter_core.hookspecs import hookimpl
from patter_core.phone import Patter
from patter_core.plugins import make_plugin_manager
from patter_core.registry import Registry
from patter_core.testing import FakeCarrier, FakeEngine, FakeLLM, FakeSTT, FakeTTS
from patter_core.tools import tool


class FakesPlugin:
    @hookimpl
    def register_engines(self, register):
        register(FakeEngine, name="fake-engine", default_priority=1)

    @hookimpl
    def register_stt(self, register):
        register(FakeSTT, name="fake-stt", default_priority=1)

    @hookimpl
    def register_llms(self, register):
        register(FakeLLM, name="fake-llm", default_priority=1)

    @hookimpl
    def register_tts(self, register):
        register(FakeTTS, name="fake-tts", default_priority=1)

    @hookimpl
    def register_carriers(self, register):
        register(FakeCarrier, name="fake")


@pytest.fixture
def registry() -> Registry:
    return Registry(make_plugin_manager(load_entrypoints=False, extra_plugins=[("fakes", FakesPlugin())]))


def test_provider_arguments_accept_registered_names(registry: Registry) -> None:
    agent = build_agent(registry, system_prompt="hi", stt="fake-stt", llm="fake-llm", tts="fake-tts")
    assert (
        isinstance(agent.stt, FakeSTT) and isinstance(agent.llm, FakeLLM) and isinstance(agent.tts, FakeTTS)
    )
    assert agent.mode == "pipeline"
    assert agent.vad is not None  # the default VAD was filled in


def test_defaults_when_no_provider_is_named(registry: Registry) -> None:
    agent = build_agent(registry, system_prompt="hi")
    assert isinstance(agent.engine, FakeEngine)
    piped = build_agent(registry, system_prompt="hi", on_message=lambda turn: "ok")
    assert piped.engine is None and isinstance(piped.stt, FakeSTT) and piped.llm is None


def test_unknown_names_raise_a_helpful_error(registry: Registry) -> None:
    with pytest.raises(UnknownProviderError, match="fake-stt"):
        build_agent(registry, stt="fake-sst", llm="fake-llm", tts="fake-tts")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"engine": FakeEngine(), "stt": FakeSTT()}, "cannot be combined with stt"),
        (
            {"llm": FakeLLM(), "on_message": lambda t: "x", "stt": FakeSTT(), "tts": FakeTTS()},
            "mutually exclusive",
        ),
        ({"engine": FakeEngine(), "barge_in_threshold_ms": -1}, "barge_in_threshold_ms"),
        ({"engine": FakeEngine(), "barge_in_threshold_ms": 300.5}, "barge_in_threshold_ms"),
        ({"engine": "not-an-engine-object"}, "Engine instance"),
        ({"engine": FakeEngine(), "transfer_destinations": ["555-1234"]}, "E.164"),
        ({"engine": FakeEngine(), "tools": [tool(lambda: 1, name="end_call")]}, "system tools"),
        ({"engine": FakeEngine(), "tools": [tool(lambda: 1, name="a"), tool(lambda: 2, name="a")]}, "unique"),
        ({"engine": FakeEngine(), "guardrails": ["no swearing"]}, "guardrail"),
    ],
)
def test_agent_validation_names_the_fix(options: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Agent(system_prompt="hi", **options)


def test_incomplete_pipeline_says_what_is_missing() -> None:
    agent = Agent(system_prompt="hi", stt=FakeSTT())
    with pytest.raises(ConfigurationError, match=r"tts, llm \(or on_message\)"):
        agent.check_complete()
    ok = Agent(system_prompt="hi", stt=FakeSTT(), tts=FakeTTS())
    ok.check_complete(on_message=lambda t: "fine")
    with pytest.raises(ConfigurationError, match="mutually exclusive"):
        Agent(system_prompt="hi", stt=FakeSTT(), tts=FakeTTS(), llm=FakeLLM()).check_complete(
            on_message=lambda t: "x"
        )


def test_transfer_destinations_accept_lists_and_mappings() -> None:
    listed = Agent(engine=FakeEngine(), transfer_destinations=["+15551234567", "sip:desk@example.com"])
    assert listed.transfer_destinations == {
        "+15551234567": "+15551234567",
        "sip:desk@example.com": "sip:desk@example.com",
    }
    named = Agent(engine=FakeEngine(), transfer_destinations={"sales": "+15551234567"})
    assert named.transfer_destinations == {"sales": "+15551234567"}


def test_patter_validation(registry: Registry) -> None:
    phone = Patter(
        carrier="fake",
        phone_number="+15550001111",
        webhook_url="https://agent.example.com/",
        registry=registry,
    )
    assert isinstance(phone.carrier, FakeCarrier)
    assert phone.webhook_url == "agent.example.com"
    with pytest.raises(ConfigurationError, match=r"E\.164"):
        Patter(carrier="fake", phone_number="5550001111", registry=registry)
    with pytest.raises(ConfigurationError, match="public host name"):
        Patter(carrier="fake", webhook_url="https://example.com/some/path", registry=registry)
    with pytest.raises(UnknownProviderError):
        Patter(carrier="fax-machine", registry=registry)


async def test_serve_refuses_without_webhook_url(registry: Registry) -> None:
    phone = Patter(carrier="fake", phone_number="+15550001111", registry=registry)
    agent = phone.agent(engine="fake-engine")
    with pytest.raises(ConfigurationError, match="webhook_url is not set"):
        await phone.serve(agent, port=0)


async def test_guardrails() -> None:
    words = guardrail(
        "no-medical", blocked_terms=["diagnosis", "prescription drug"], replacement="I can't advise on that."
    )
    checker = guardrail("polite", check=lambda text: "stupid" in text.lower())

    async def async_check(text: str) -> bool:
        return text.endswith("!!!")

    shouty = guardrail("shouty", check=async_check)
    rails = [words, checker, shouty]
    assert not (await check_all(rails, "Your appointment is at noon.")).blocked
    verdict = await check_all(rails, "My Diagnosis: rest.")
    assert verdict.blocked and verdict.text == "I can't advise on that." and verdict.guardrail == "no-medical"
    assert not (await check_all(rails, "Undiagnosed.")).blocked  # whole words only
    assert (await check_all(rails, "That is a stupid question")).guardrail == "polite"
    assert (await check_all(rails, "Hello!!!")).guardrail == "shouty"
    with pytest.raises(ValueError, match="blocked_terms"):
        guardrail("empty")

    def broken(text: str) -> bool:
        raise RuntimeError("boom")

    assert (await check_all([guardrail("broken", check=broken)], "anything")).blocked  # fail closed


def test_end_of_turn_silence_reaches_the_default_vad() -> None:
    registry = Registry.build(env={"PATTER_DISABLE_PLUGIN_AUTOLOAD": "1"})
    agent = build_agent(registry, stt=FakeSTT(), llm=FakeLLM(), tts=FakeTTS(), end_of_turn_silence_ms=1200)
    assert agent.vad is not None and agent.vad.end_ms == 1200  # the core's energy VAD, configured


def test_the_core_ships_a_simulated_carrier_for_offline_runs() -> None:
    registry = Registry.build(env={"PATTER_DISABLE_PLUGIN_AUTOLOAD": "1"})
    entry = registry.get("carrier", "simulated")
    assert entry.metadata["simulator"].endswith(":FakeCarrierSimulator")
    assert isinstance(registry.create("carrier", "simulated"), FakeCarrier)
