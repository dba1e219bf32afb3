"""Fixtures: the fake servers, engine/config factories and a connected Realtime session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from patter_openai import OpenAIRealtime
from patter_openai.testing import EventCollector, FakeOpenAIHTTP, FakeRealtimeServer

from patter_core.audio.format import MULAW_8K, AudioFormat
from patter_core.interfaces.engine import EngineConfig, EngineSession
from patter_core.interfaces.llm import ToolSpec

API_KEY = "sk-test-key"
TOOLS = (
    ToolSpec(
        "transfer_call",
        "Transfer the caller to a human.",
        {"type": "object", "properties": {"number": {"type": "string"}}, "required": ["number"]},
    ),
    ToolSpec("end_call", "Hang up."),
)


@pytest.fixture
def api_key() -> str:
    return API_KEY


@pytest.fixture
def tools() -> tuple[ToolSpec, ...]:
    return TOOLS


@pytest.fixture
async def fake_rt() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(api_key=API_KEY, pace=0) as fake:
        yield fake


@pytest.fixture
async def fake_http() -> AsyncIterator[FakeOpenAIHTTP]:
    async with FakeOpenAIHTTP(api_key=API_KEY) as fake:
        yield fake


@pytest.fixture
def make_engine() -> Any:
    def _make(fake: FakeRealtimeServer, **kwargs: Any) -> OpenAIRealtime:
        kwargs.setdefault("reconnect_timeout", 2.0)
        kwargs.setdefault("connect_timeout", 2.0)
        return OpenAIRealtime(api_key=API_KEY, base_url=fake.base_url, **kwargs)

    return _make


@pytest.fixture
def make_config() -> Any:
    def _make(fmt: AudioFormat = MULAW_8K, **kwargs: Any) -> EngineConfig:
        kwargs.setdefault("instructions", "You are a concise phone agent.")
        kwargs.setdefault("tools", TOOLS)
        return EngineConfig(input_format=fmt, output_format=fmt, **kwargs)

    return _make


@pytest.fixture
async def connect(make_engine: Any, make_config: Any) -> AsyncIterator[Any]:
    """``await connect(fake, cfg=..., **engine_kwargs)`` -> (session, EventCollector); closed afterwards."""
    opened: list[tuple[EngineSession, EventCollector]] = []

    async def _connect(
        fake: FakeRealtimeServer, *, cfg: EngineConfig | None = None, **engine_kwargs: Any
    ) -> tuple[Any, EventCollector]:
        session = await make_engine(fake, **engine_kwargs).connect(cfg or make_config())
        collector = EventCollector(session)
        opened.append((session, collector))
        return session, collector

    yield _connect
    for session, collector in opened:
        await session.aclose()
        await collector.close()
