"""Shared fixtures for the cross-package tests."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from patter_core.testing.leaks import SERVER_KEEPALIVE_TIMERS, LeakCheck


class PluginSite:
    """A directory on sys.path where tests install throw-away plugin distributions (a module plus a
    ``.dist-info`` with ``entry_points.txt``), found by the real entry-point machinery."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def add(
        self, dist: str, module: str, source: str, *, version: str = "1.0.0", entry_name: str | None = None
    ) -> None:
        (self.root / f"{module}.py").write_text(textwrap.dedent(source))
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[patter]\n{entry_name or module} = {module}\n")


@pytest.fixture
def plugin_site(tmp_path: Path) -> Iterator[PluginSite]:
    site = tmp_path / "site"
    site.mkdir()
    sys.path.insert(0, str(site))
    try:
        yield PluginSite(site)
    finally:
        sys.path.remove(str(site))
        for name in [
            m
            for m, mod in sys.modules.items()
            if getattr(mod, "__file__", "") and str(site) in str(mod.__file__)
        ]:
            del sys.modules[name]


@pytest.fixture
async def no_leaks(request: pytest.FixtureRequest) -> AsyncIterator[LeakCheck]:
    """Fail if the test leaves asyncio tasks, sockets or open files behind (see
    :mod:`patter_core.testing.leaks`). Request it *last* so servers started by earlier fixtures
    belong to the baseline; it checks before they are torn down (and not after a failed test,
    whose own error matters more)."""
    failed = request.session.testsfailed
    check = LeakCheck(ignore_coroutines=SERVER_KEEPALIVE_TIMERS).start()
    yield check
    if request.session.testsfailed == failed:
        await check.check()


no_task_leaks = no_leaks


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)
