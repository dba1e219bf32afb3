"""The documentation in ``docs/`` stays true: marked snippets run, the schema shown is the schema
produced, the plugin example is the README's (which ``tests/core/test_plugins.py`` installs and runs),
every provider option is documented, and every link between pages points at a real heading."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest

from patter_core.agent import Agent
from patter_core.registry import Registry

DOCS = Path(__file__).resolve().parents[2] / "docs"
README = DOCS.parent / "README.md"
_MARKED = re.compile(r"<!-- test: (\w+) -->\n```python\n(.*?)```", re.DOTALL)


def marked(kind: str) -> list[tuple[str, str]]:
    """``(page, code)`` of every snippet preceded by ``<!-- test: <kind> -->``."""
    return [
        (page.name, code)
        for page in sorted(DOCS.glob("*.md"))
        for found, code in _MARKED.findall(page.read_text())
        if found == kind
    ]


@pytest.mark.parametrize(("page", "code"), marked("exec"), ids=lambda v: v if v.endswith(".md") else "")
def test_marked_snippets_run(page: str, code: str) -> None:
    exec(compile(code, page, "exec"), {"__name__": f"docs_{page}"})


@pytest.mark.parametrize(("page", "code"), marked("pytest"), ids=lambda v: v if v.endswith(".md") else "")
async def test_marked_tests_pass(page: str, code: str) -> None:
    namespace: dict[str, Any] = {"__name__": f"docs_{page}"}
    exec(compile(code, page, "exec"), namespace)
    tests = [value for name, value in namespace.items() if name.startswith("test_")]
    assert tests
    for test in tests:
        result = test()
        if inspect.isawaitable(result):
            await result


def test_the_plugin_page_shows_the_tested_readme_example() -> None:
    ((_, code),) = marked("plugin")
    readme = README.read_text()
    start = readme.index("# patter_acme.py\n")
    assert code == readme[start : readme.index("```", start)]
    assert len(code.strip().splitlines()) <= 20


def test_the_schema_shown_for_a_tool_is_the_one_produced() -> None:
    page = (DOCS / "tools-and-guardrails.md").read_text()
    (_, code) = next(item for item in marked("exec") if "book_appointment" in item[1])
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    spec = namespace["book_appointment"].spec
    shown = page.split("The model sees this schema")[1].split("```json\n")[1].split("```")[0]
    assert json.loads(shown) == {
        "name": spec.name,
        "description": spec.description,
        "parameters": spec.parameters,
    }


def _documented_options(provider: str) -> set[str]:
    """The option names in the table of ``### `<provider>` `` in providers.md."""
    page = (DOCS / "providers.md").read_text()
    section = re.split(rf"\n### `{provider}`", page)[1].split("\n## ")[0].split("\n### ")[0]
    names: set[str] = set()
    for row in re.findall(r"^\| (`[^|]+) \|", section, re.MULTILINE):
        names |= set(re.findall(r"`(\w+)`", row))
    return names


def test_every_installed_provider_option_is_documented() -> None:
    registry = Registry.build()
    classes = {e.factory for e in registry.entries() if isinstance(e.factory, type)}
    from patter_core.audio import EnergyVAD

    classes.add(EnergyVAD)
    missing = {}
    for cls in classes:
        if cls.__module__.startswith("patter_core.testing"):
            continue
        parameters = [
            p
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.kind is not p.VAR_KEYWORD
        ]
        undocumented = {p.name for p in parameters} - _documented_options(cls.__name__)
        if undocumented:
            missing[cls.__name__] = sorted(undocumented)
    assert not missing, f"document these options in docs/providers.md: {missing}"


def test_every_agent_option_is_documented() -> None:
    page = (DOCS / "providers.md").read_text().split("## Agent options")[1]
    documented = set(re.findall(r"`(\w+)`", page))
    fields = {a.name for a in Agent.__attrs_attrs__}  # type: ignore[attr-defined]
    assert fields - documented == set()


def _slug(heading: str) -> str:
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def test_links_between_pages_resolve() -> None:
    broken = []
    for page in [*DOCS.glob("*.md"), README]:
        for target, anchor in re.findall(r"\]\(([\w./-]+\.md)(?:#([\w-]+))?\)", page.read_text()):
            linked = (page.parent / target).resolve()
            if not linked.is_file():
                broken.append(f"{page.name} -> {target}")
                continue
            if anchor:
                slugs = {_slug(h) for h in re.findall(r"^#+ (.+)$", linked.read_text(), re.MULTILINE)}
                if anchor not in slugs:
                    broken.append(f"{page.name} -> {target}#{anchor}")
    assert not broken
