"""Fixtures: a real Patter server on a loopback port with the Twilio carrier and the fake Twilio API
(see :mod:`patter_twilio.testing.harness`). Agents may transfer to ``sales`` (+15553334444)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from patter_twilio.testing.harness import TwilioEnv, twilio_env

SALES = "+15553334444"


def _env(**kwargs: Any) -> contextlib.AbstractAsyncContextManager[TwilioEnv]:
    kwargs["agent"] = {"transfer_destinations": {"sales": SALES}, **(kwargs.get("agent") or {})}
    return twilio_env(**kwargs)


@pytest.fixture
def make_env() -> Callable[..., contextlib.AbstractAsyncContextManager[TwilioEnv]]:
    return _env


@pytest.fixture
async def env() -> AsyncIterator[TwilioEnv]:
    async with _env() as built:
        yield built
