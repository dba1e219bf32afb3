"""pytest plugin (entry point ``pytest11``): fixtures for testing agents and providers.

``fake_channel``
    a :class:`~patter_core.testing.FakeChannel` with manual playback off (real-time playout);
``patter_registry``
    a fresh :class:`~patter_core.registry.Registry` of the installed plugins (no process-wide cache).
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
