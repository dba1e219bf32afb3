"""The plugin registers its providers under the contract names, through the ``patter`` entry point."""

from __future__ import annotations

import importlib_metadata
from patter_elevenlabs import ElevenLabsConvAI, ElevenLabsTTS, _hooks

from patter_core.plugins import PatterPluginManager
from patter_core.registry import Registry


def test_hooks_register_the_contract_names() -> None:
    pm = PatterPluginManager()
    info = pm.add_plugin(_hooks, name="patter-elevenlabs")
    assert info.ok, info.error
    registry = Registry(pm)
    assert registry.get("engine", "elevenlabs-convai").factory is ElevenLabsConvAI
    assert registry.get("tts", "elevenlabs").factory is ElevenLabsTTS
    assert registry.get("tts", "elevenlabs").metadata["env"] == ["ELEVENLABS_API_KEY"]
    assert registry.provided_by("patter-elevenlabs")["engine"] == ["elevenlabs-convai"]
    engine = registry.create(
        "engine", "elevenlabs-convai", agent_id="a", api_key="k", base_url="http://127.0.0.1:9"
    )
    assert isinstance(engine, ElevenLabsConvAI) and engine.base_url == "http://127.0.0.1:9"


def test_entry_point_is_declared() -> None:
    eps = [ep for ep in importlib_metadata.entry_points(group="patter") if ep.name == "elevenlabs"]
    assert [ep.value for ep in eps] == ["patter_elevenlabs._hooks"]
    assert eps[0].dist is not None and eps[0].dist.name == "patter-elevenlabs"
