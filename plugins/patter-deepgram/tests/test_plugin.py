"""The plugin registers ``deepgram`` through the ``patter`` entry point."""

from __future__ import annotations

import importlib_metadata
from patter_deepgram import DeepgramSTT, _hooks

from patter_core.plugins import PatterPluginManager
from patter_core.registry import Registry


def test_hooks_register_the_contract_name() -> None:
    pm = PatterPluginManager()
    info = pm.add_plugin(_hooks, name="patter-deepgram")
    assert info.ok, info.error
    registry = Registry(pm)
    entry = registry.get("stt", "deepgram")
    assert entry.factory is DeepgramSTT and entry.metadata["env"] == ["DEEPGRAM_API_KEY"]
    stt = registry.create("stt", "deepgram", api_key="k", base_url="http://127.0.0.1:9")
    assert isinstance(stt, DeepgramSTT) and stt.listen_url(stt.capabilities.input_formats[0]).startswith(
        "ws://127.0.0.1:9/v1/listen?"
    )


def test_entry_point_is_declared() -> None:
    eps = [ep for ep in importlib_metadata.entry_points(group="patter") if ep.name == "deepgram"]
    assert [ep.value for ep in eps] == ["patter_deepgram._hooks"]
    assert eps[0].dist is not None and eps[0].dist.name == "patter-deepgram"
