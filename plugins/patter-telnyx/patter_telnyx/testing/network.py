"""Telnyx's network in a box for :func:`patter_core.testing.simulate_call` and ``patter-core demo``.

Registered as the ``telnyx`` carrier's ``simulator=`` metadata: the core starts it, serves a Patter
with :attr:`TelnyxNetwork.carrier` (pointed at the fake Call Control API, with the test key pair), and
places inbound calls through :meth:`TelnyxNetwork.call` -- signed ``call.initiated``, the agent's
``answer`` and ``streaming_start``, then the media socket driven by a
:class:`~patter_core.testing.SimulatedCaller`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from patter_core.testing.caller import SimulatedCaller
from patter_core.testing.simulation import CarrierSimulator
from patter_telnyx.carrier import Telnyx
from patter_telnyx.testing.simulator import TelnyxSimulator

__all__ = ["TelnyxNetwork"]


class TelnyxNetwork(CarrierSimulator[Telnyx]):
    """``options`` are passed to :class:`~patter_telnyx.Telnyx` (e.g. ``codec="PCMU"``)."""

    def __init__(self, *, webhook_host: str, **options: Any) -> None:
        super().__init__(webhook_host=webhook_host, **options)
        self.sim = TelnyxSimulator(public_host=webhook_host)

    async def start_network(self) -> None:
        await self.sim.__aenter__()

    async def stop_network(self) -> None:
        await self.sim.aclose()

    def make_carrier(self) -> Telnyx:
        return Telnyx(
            api_key=self.sim.api_key,
            connection_id=self.sim.connection_id,
            public_key=self.sim.public_key,
            base_url=self.sim.base_url,
            **self.options,
        )

    async def call(
        self,
        server: str,
        *,
        caller: str = "+15550001111",
        callee: str = "+15550002222",
        realtime: bool = True,
    ) -> SimulatedCaller:
        port = urlsplit(server).port
        if port is None:
            raise ValueError(f"the server address needs a port, got {server!r}")
        self.sim.realtime = realtime
        self.sim.connect_to(port)
        call = await self.sim.incoming_call(from_=caller, to=callee)
        return await call.wait_media()
