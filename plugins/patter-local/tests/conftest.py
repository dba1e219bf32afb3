"""Shared fixtures: every test here runs with the network blocked; models load once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from patter_local import LocalTTS
from patter_local.testing import AGENT_LINES, CALLER_LINES, NetworkGuard, phone_line

_HERE = Path(__file__).parent
_GUARD = NetworkGuard()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    """Each of this package's tests runs -- setup (model loading included), call and teardown -- with
    non-loopback connections and name look-ups refused. Other packages' tests are left alone."""
    if _HERE not in item.path.parents:
        return (yield)
    with _GUARD:
        return (yield)


@pytest.fixture(autouse=True)
def network_blocked() -> Iterator[NetworkGuard]:
    """The active guard; a test fails if anything it ran even tried to reach the network."""
    yield _GUARD
    assert _GUARD.blocked == [], f"something tried to use the network: {_GUARD.blocked}"


@pytest.fixture(scope="session")
def agent_tts() -> LocalTTS:
    tts = LocalTTS(voice="agent")
    tts.load()
    return tts


@pytest.fixture(scope="session")
def caller_tts() -> LocalTTS:
    tts = LocalTTS(voice="caller")
    tts.load()
    return tts


@pytest.fixture(scope="session")
def phone_audio(agent_tts: LocalTTS, caller_tts: LocalTTS) -> dict[str, list[np.ndarray]]:
    """Every line synthesised and sent over the mu-law phone path, at 16 kHz: {voice: [pcm, ...]}."""
    return {
        "caller": [phone_line(caller_tts.synthesize_sync(t), 22050) for t in CALLER_LINES],
        "agent": [phone_line(agent_tts.synthesize_sync(t), 22050) for t in AGENT_LINES],
    }
