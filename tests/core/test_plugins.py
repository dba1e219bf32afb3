"""Plugin discovery through real entry points: third-party plugins, broken ones, duplicates, switches."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from patter_core.errors import DuplicateProviderError, UnknownProviderError
from patter_core.hookspecs import hookimpl
from patter_core.plugins import make_plugin_manager
from patter_core.registry import KINDS, Registry

GOOD = """
from patter_core import hookimpl

class ExampleTTS:
    def __init__(self, **kw):
        self.kw = kw

@hookimpl
def register_tts(register):
    register(ExampleTTS, name="example-tts", description="an example")
"""

EVERY_HOOK = """
from patter_core import hookimpl

def factory(**kw):
    return ("made", kw)

@hookimpl
def register_carriers(register): register(factory, name="c1")
@hookimpl
def register_engines(register): register(factory, name="e1")
@hookimpl
def register_stt(register): register(factory, name="s1")
@hookimpl
def register_llms(register): register(factory, name="l1")
@hookimpl
def register_tts(register): register(factory, name="t1")
@hookimpl
def register_vads(register): register(factory, name="v1")
@hookimpl
def register_tools(register): register(factory, name="tool1")
@hookimpl
def register_guardrails(register): register(factory, name="g1")
@hookimpl
def register_commands(cli):
    cli.add("hello-example", lambda args: print("hello from a plugin") or 0, help="say hello")
"""

BROKEN = """
raise ImportError("this plugin is broken on purpose")
"""

TYPO = """
from patter_core import hookimpl

@hookimpl
def register_ttss(register):
    pass
"""


def test_third_party_plugin_is_found_through_its_entry_point(plugin_site) -> None:
    plugin_site.add("patter-example", "patter_example_hooks", GOOD)
    registry = Registry.build()
    entry = registry.get("tts", "example-tts")
    assert entry.distribution == "patter-example"
    assert entry.metadata["description"] == "an example"
    tts = registry.create("tts", "example-tts", api_key="k")
    assert tts.kw == {"api_key": "k"}
    info = next(p for p in registry.plugins if p.name == "patter-example")
    assert info.version == "1.0.0"
    assert info.entry_point == "patter_example_hooks = patter_example_hooks"
    assert info.error is None
    assert registry.provided_by("patter-example")["tts"] == ["example-tts"]


def test_every_hook_registers_its_kind(plugin_site) -> None:
    plugin_site.add("patter-every", "patter_every_hooks", EVERY_HOOK)
    registry = Registry.build()
    provided = registry.provided_by("patter-every")
    assert provided == {
        "carrier": ["c1"],
        "engine": ["e1"],
        "stt": ["s1"],
        "llm": ["l1"],
        "tts": ["t1"],
        "vad": ["v1"],
        "tool": ["tool1"],
        "guardrail": ["g1"],
    }
    assert set(provided) == set(KINDS)
    assert registry.create("engine", "e1", model="x") == ("made", {"model": "x"})


def test_broken_plugin_is_reported_and_isolated(plugin_site) -> None:
    plugin_site.add("patter-broken", "patter_broken_hooks", BROKEN)
    plugin_site.add("patter-example", "patter_example_hooks", GOOD)
    registry = Registry.build()
    broken = next(p for p in registry.plugins if p.name == "patter-broken")
    assert broken.status == "failed"
    assert "ImportError: this plugin is broken on purpose" in (broken.error or "")
    assert registry.get("tts", "example-tts").distribution == "patter-example"


def test_unknown_hook_name_is_caught_at_load(plugin_site) -> None:
    plugin_site.add("patter-typo", "patter_typo_hooks", TYPO)
    registry = Registry.build()
    typo = next(p for p in registry.plugins if p.name == "patter-typo")
    assert typo.status == "failed"
    assert "register_ttss" in (typo.error or "")


def test_duplicate_names_are_rejected_naming_both_distributions(plugin_site) -> None:
    plugin_site.add("patter-example", "patter_example_hooks", GOOD)
    plugin_site.add("patter-copycat", "patter_copycat_hooks", GOOD)
    registry = Registry.build()
    with pytest.raises(DuplicateProviderError) as err:
        registry.get("tts", "example-tts")
    message = str(err.value)
    assert "patter-example" in message and "patter-copycat" in message
    assert "PATTER_BLOCK_PLUGINS" in message
    failed = [
        p for p in registry.plugins if p.name in ("patter-example", "patter-copycat") and p.status == "failed"
    ]
    assert len(failed) == 1 and "example-tts" in (failed[0].error or "")


def test_unknown_provider_error_lists_installed_and_suggests(plugin_site) -> None:
    plugin_site.add("patter-example", "patter_example_hooks", GOOD)
    registry = Registry.build()
    with pytest.raises(UnknownProviderError) as err:
        registry.get("tts", "example-ts")
    message = str(err.value)
    assert "example-tts" in message  # installed list
    assert "Did you mean 'example-tts'" in message
    assert "pip install patter-example" in message
    assert "patter-core list-plugins" in message


def test_environment_switches(plugin_site) -> None:
    plugin_site.add("patter-example", "patter_example_hooks", GOOD)
    plugin_site.add("patter-every", "patter_every_hooks", EVERY_HOOK)
    off = Registry.build(env={"PATTER_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert [p.name for p in off.plugins] == ["patter-core"]
    only = Registry.build(env={"PATTER_PLUGINS": "patter-example"})
    assert only.names("tts") == ["example-tts"]
    blocked = Registry.build(env={"PATTER_BLOCK_PLUGINS": "patter_example_hooks"})
    assert "example-tts" not in blocked.names("tts")
    assert next(p for p in blocked.plugins if p.name == "patter-example").status == "blocked"


def test_fresh_managers_do_not_share_state() -> None:
    class Local:
        @hookimpl
        def register_llms(self, register):
            register(lambda **kw: "llm", name="local-only")

    with_plugin = Registry(make_plugin_manager(load_entrypoints=False, extra_plugins=[("local", Local())]))
    without = Registry(make_plugin_manager(load_entrypoints=False))
    assert with_plugin.names("llm") == ["local-only"]
    assert without.names("llm") == []


def test_builtin_energy_vad_is_registered_as_a_default() -> None:
    registry = Registry.build(env={"PATTER_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert registry.names("vad") == ["energy"]
    default = registry.default("vad")
    assert default is not None and default.name == "energy"


def _cli(args: list[str], site: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([site, os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-m", "patter_core.cli", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_list_plugins_json_contract_with_a_broken_plugin(plugin_site) -> None:
    plugin_site.add("patter-broken", "patter_broken_hooks", BROKEN)
    plugin_site.add("patter-every", "patter_every_hooks", EVERY_HOOK)
    result = _cli(["list-plugins", "--json"], str(plugin_site.root))
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    for row in rows:
        assert {"name", "version", "entry_point", "providers", "error"} <= set(row)
        assert set(row["providers"]) == set(KINDS)
    by_name = {r["name"]: r for r in rows}
    assert by_name["patter-broken"]["error"].startswith("ImportError")
    assert by_name["patter-every"]["error"] is None
    assert by_name["patter-every"]["providers"]["engine"] == ["e1"]
    strict = _cli(["list-plugins", "--strict"], str(plugin_site.root))
    assert strict.returncode == 1
    assert "patter-broken" in strict.stdout and "failed" in strict.stdout


def test_plugin_commands_are_added_to_the_cli(plugin_site) -> None:
    plugin_site.add("patter-every", "patter_every_hooks", EVERY_HOOK)
    result = _cli(["hello-example"], str(plugin_site.root))
    assert result.returncode == 0, result.stderr
    assert "hello from a plugin" in result.stdout


def _readme_plugin_source() -> str:
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("# patter_acme.py\n")
    return readme[start : readme.index("```", start)]


async def test_the_readme_plugin_example_works(plugin_site) -> None:
    source = _readme_plugin_source()
    assert len(source.strip().splitlines()) <= 20
    plugin_site.add("patter-acme", "patter_acme", source, entry_name="acme")
    registry = Registry.build()
    tts = registry.create("tts", "acme", api_key="k")
    session = await tts.open_session(tts.capabilities.output_formats[0])
    audio = b"".join([chunk async for chunk in session.synthesize("hello")])
    assert audio and registry.provided_by("patter-acme")["tts"] == ["acme"]
