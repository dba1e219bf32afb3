"""A real Patter server on a loopback port with the Telnyx carrier, driven by the Telnyx simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from patter_telnyx import Telnyx
from patter_telnyx.testing import TelnyxSimulator

from patter_core.interfaces.carrier import CallInfo, CallStatusEvent
from patter_core.phone import Patter
from patter_core.plugins import make_plugin_manager
from patter_core.registry import Registry
from patter_core.session.record import CallRecord
from patter_core.testing import FakeEngine

SALES = "+15557770000"
OUR_NUMBER = "+15559870000"


async def until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class Served:
    def __init__(
        self,
        *,
        phone: Patter,
        carrier: Telnyx,
        engine: FakeEngine,
        sim: TelnyxSimulator,
        records: list[CallRecord],
        statuses: list[CallStatusEvent],
    ) -> None:
        self.phone, self.carrier, self.engine, self.sim = phone, carrier, engine, sim
        self.records, self.statuses = records, statuses

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.phone.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.phone.port}"

    async def record(self, timeout: float = 10.0) -> CallRecord:
        await until(lambda: self.records, timeout, "the call record")
        return self.records[-1]

    def statuses_of(self, call_id: str) -> list[CallStatusEvent]:
        return [s for s in self.statuses if s.call_id == call_id]

    def session(self, call_id: str) -> Any:
        return self.phone._host.active[call_id]

    @staticmethod
    def info(call_id: str, *, direction: str = "inbound", caller: str = "+15551230000") -> CallInfo:
        return CallInfo(
            call_id=call_id, carrier="telnyx", direction=direction, caller=caller, callee=OUR_NUMBER
        )


ServeFactory = Callable[..., Awaitable[Served]]


@pytest.fixture
async def sim() -> AsyncIterator[TelnyxSimulator]:
    async with TelnyxSimulator() as simulator:
        yield simulator


@pytest.fixture
async def serve(sim: TelnyxSimulator) -> AsyncIterator[ServeFactory]:
    running: list[tuple[Patter, Telnyx, asyncio.Task[None]]] = []

    async def start(
        *,
        codec: str = "L16",
        engine: FakeEngine | None = None,
        public_key: str | None = sim.public_key,
        verify_webhooks: bool = True,
        first_message: str | None = "Hello from Telnyx.",
        **agent_options: Any,
    ) -> Served:
        carrier = Telnyx(
            api_key=sim.api_key,
            connection_id=sim.connection_id,
            public_key=public_key,
            base_url=sim.base_url,
            codec=codec,
            greeting_timeout_s=5.0,
        )
        engine = engine or FakeEngine()
        registry = Registry(make_plugin_manager(load_entrypoints=False))
        phone = Patter(
            carrier=carrier, phone_number=OUR_NUMBER, webhook_url=sim.public_host, registry=registry
        )
        agent = phone.agent(
            system_prompt="You answer the phone.",
            engine=engine,
            first_message=first_message,
            transfer_destinations={"sales": SALES},
            **agent_options,
        )
        records: list[CallRecord] = []
        statuses: list[CallStatusEvent] = []
        task = asyncio.create_task(
            phone.serve(
                agent,
                host="127.0.0.1",
                port=0,
                on_call_end=records.append,
                on_call_status=statuses.append,
                verify_webhooks=verify_webhooks,
            )
        )
        await phone.wait_ready()
        sim.connect_to(phone.port or 0)
        running.append((phone, carrier, task))
        return Served(
            phone=phone, carrier=carrier, engine=engine, sim=sim, records=records, statuses=statuses
        )

    yield start
    for phone, carrier, task in running:
        await phone.stop()
        await asyncio.wait_for(task, 20)
        await carrier.aclose()  # Patter.stop() does not close the carrier (only a cancelled serve does)
