"""pytest plugin (entry point ``pytest11``): fixtures for testing agents and providers.

``fake_channel``
    a :class:`~patter_core.testing.FakeChannel` with manual playback off (real-time playout);
``patter_registry``
    a fresh :class:`~patter_core.registry.Registry` of the installed plugins (no process-wide cache);
``patter_leaks``
    a started :class:`~patter_core.testing.leaks.LeakCheck`: the test fails at teardown if it left
    asyncio tasks, sockets or open files behind (request it last, after fixtures that start servers).
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def fake_channel() -> Any:
    from patter_core.testing import FakeChannel

    return FakeChannel()


@pytest.fixture
def patter_registry() -> Any:
    from patter_core.registry import Registry

    return Registry.build()


try:  # an async fixture must be pytest-asyncio's to run in its strict mode too
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - without pytest-asyncio there is no loop to check anyway
    _async_fixture = pytest.fixture  # type: ignore[assignment]


@_async_fixture
async def patter_leaks(request: pytest.FixtureRequest) -> Any:
    from patter_core.testing.leaks import SERVER_KEEPALIVE_TIMERS, LeakCheck

    failed = request.session.testsfailed
    check = LeakCheck(ignore_coroutines=SERVER_KEEPALIVE_TIMERS).start()
    yield check
    if request.session.testsfailed == failed:  # a failed test's own error matters more
        await check.check()
