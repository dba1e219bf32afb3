"""Registration through the entry point, credentials and base URLs."""

from __future__ import annotations

import patter_openai
import pytest
from patter_openai import OpenAILLM, OpenAIRealtime, OpenAITTS, WhisperSTT

from patter_core.errors import ConfigurationError, MissingCredentialError
from patter_core.registry import Registry

PROVIDERS = [
    ("engine", "openai-realtime", OpenAIRealtime),
    ("llm", "openai", OpenAILLM),
    ("tts", "openai", OpenAITTS),
    ("stt", "whisper", WhisperSTT),
]


@pytest.mark.parametrize(("kind", "name", "cls"), PROVIDERS)
def test_entry_point_registers_the_contract_names(kind: str, name: str, cls: type) -> None:
    registry = Registry.build(env={})
    entry = registry.get(kind, name)
    assert entry.factory is cls and entry.distribution == "patter-openai"
    assert entry.metadata["env"] == ["OPENAI_API_KEY"]
    provider = registry.create(kind, name, api_key="sk-x", base_url="http://127.0.0.1:1/v1")
    assert isinstance(provider, cls)


def test_plugin_loads_cleanly_and_lists_its_providers() -> None:
    registry = Registry.build(env={})
    [info] = [p for p in registry.plugins if p.name == "patter-openai"]
    assert info.ok and info.entry_point == "openai = patter_openai._hooks"
    provided = registry.provided_by("patter-openai")
    assert provided["engine"] == ["openai-realtime"] and provided["llm"] == ["openai"]
    assert provided["tts"] == ["openai"] and provided["stt"] == ["whisper"]


@pytest.mark.parametrize("cls", [OpenAIRealtime, OpenAILLM, OpenAITTS, WhisperSTT])
def test_missing_api_key_names_the_fix(cls: type, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingCredentialError) as info:
        cls()
    assert (
        str(info.value)
        == "OPENAI_API_KEY is not set: pass api_key= or set the OPENAI_API_KEY environment variable"
    )


@pytest.mark.parametrize("cls", [OpenAIRealtime, OpenAILLM, OpenAITTS, WhisperSTT])
def test_environment_fallbacks(cls: type, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9999/v1/")
    provider = cls()
    assert provider.base_url == "http://127.0.0.1:9999/v1"
    assert "sk-from-env" not in repr(provider)
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert cls().base_url == "https://api.openai.com/v1"


def test_bad_base_url_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="http:// or https://"):
        OpenAILLM(api_key="k", base_url="api.openai.com/v1")


def test_public_api() -> None:
    assert set(patter_openai.__all__) == {
        "OpenAILLM",
        "OpenAIRealtime",
        "OpenAIRealtimeSession",
        "OpenAITTS",
        "WhisperSTT",
    }
    assert (
        OpenAIRealtime(api_key="k", base_url="http://localhost:1/v1").url
        == "ws://localhost:1/v1/realtime?model=gpt-realtime"
    )
