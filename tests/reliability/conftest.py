"""A real Patter server (quart + hypercorn on a loopback port) behind each carrier simulator.

``served`` is parametrised over :data:`SIMULATORS`: every test using it runs once per carrier -- the
core's fake carrier and each installed carrier plugin with a simulator. The tests only use what every
simulator offers (``sim.call(...)`` returning a :class:`~patter_core.testing.SimulatedCaller`, whose
dialect spells the carrier's frames, and the carrier's ``wire_format``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpx
import pytest

from patter_core.audio import MULAW_8K, PCM16_16K
from patter_core.phone import Patter
from patter_core.plugins import make_plugin_manager
from patter_core.registry import Registry
from patter_core.session.call import SessionOptions
from patter_core.session.record import CallRecord
from patter_core.testing import (
    CarrierSimulator,
    FakeCarrierSimulator,
    FakeEngine,
    SimulatedCaller,
    load_simulator,
)


def _simulators() -> list[Any]:
    """The core's fake carrier, plus every installed carrier plugin that registers a simulator."""
    params = [pytest.param(FakeCarrierSimulator, id="fake")]
    registry = Registry.build()
    for name in registry.names("carrier"):
        entry = registry.get("carrier", name)
        if entry.metadata.get("offline") or not entry.metadata.get("simulator"):
            continue  # the core's own simulated carrier is the "fake" one above
        _, simulator = load_simulator(registry, name)
        params.append(pytest.param(simulator, id=name))
    return params


SIMULATORS: list[Any] = _simulators()
"""Carrier simulators the server-level suites run against (one ``pytest.param`` per carrier): a carrier
plugin that registers ``simulator=`` metadata is picked up with no change here."""

SECRET = "reliability-test-secret-0123456789"


def empty_registry() -> Registry:
    return Registry(make_plugin_manager(load_entrypoints=False))


@attrs.define
class Served:
    phone: Patter
    simulator: CarrierSimulator
    engine: FakeEngine
    records: list[CallRecord]
    secret: str = SECRET

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.phone.port}"

    async def call(self, *, caller: str = "+15550001111", realtime: bool = False) -> SimulatedCaller:
        return await self.simulator.call(self.base, caller=caller, realtime=realtime)

    def session_of(self, caller: str) -> Any:
        """The engine session of the call from ``caller`` (calls in these tests have distinct callers)."""
        return next(s for s in self.engine.sessions if s.config.call and s.config.call.caller == caller)

    async def wait_records(self, count: int, timeout: float = 10.0) -> list[CallRecord]:
        async def poll() -> None:
            while len(self.records) < count:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(poll(), timeout)
        return self.records


@pytest.fixture(params=SIMULATORS)
async def served(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Served]:
    # PCM16 16 kHz first: a carrier whose wire format the engine does not take (Telnyx L16) gets a byte
    # swap, never a resample, so what the engine receives is exactly predictable from what was sent
    engine = FakeEngine(input_formats=(PCM16_16K, MULAW_8K))
    records: list[CallRecord] = []
    async with request.param(webhook_host="agent.test") as simulator:
        phone = Patter(
            carrier=simulator.carrier,
            phone_number="+15550002222",
            webhook_url=simulator.webhook_host,
            registry=empty_registry(),
            secret=SECRET,
            records_dir=str(tmp_path / "records"),
        )
        agent = phone.agent(system_prompt="hi", engine=engine, first_message="Hello from the server.")
        task = asyncio.create_task(
            phone.serve(
                agent,
                host="127.0.0.1",
                port=0,
                on_call_end=records.append,
                session_options=SessionOptions(),
            )
        )
        await phone.wait_ready()
        async with httpx.AsyncClient() as client:  # hypercorn is up (its own tasks exist before tests look)
            assert (await client.get(f"http://127.0.0.1:{phone.port}/health")).status_code == 200
        served = Served(phone, simulator, engine, records)
        await _warm_up(served)
        try:
            yield served
        finally:
            await phone.stop()
            await asyncio.wait_for(task, 20)


async def _warm_up(served: Served) -> None:
    """One complete call before the test: connection pools that live as long as the carrier and its
    network (REST clients, a simulator's webhook client) are open before a leak check takes its
    baseline, so only what a call leaves behind counts."""
    caller = await served.call(caller="+15550009999")
    await caller.wait_for(lambda: caller.heard_ms >= 100)
    await caller.hang_up()
    await served.wait_records(1)
    served.records.clear()
    served.engine.sessions.clear()
