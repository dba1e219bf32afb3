"""Twilio's network in a box for :func:`patter_core.testing.simulate_call` and ``patter-core demo``.

Registered as the ``twilio`` carrier's ``simulator=`` metadata: the core starts it, serves a Patter
with :attr:`TwilioSimulator.carrier` (pointed at the fake REST API, with test credentials), and places
inbound calls through :meth:`TwilioSimulator.call` -- a signed voice webhook, the TwiML's media
stream, and the :class:`~patter_core.testing.SimulatedCaller` driving it.
"""

from __future__ import annotations

from typing import Any

from patter_core.testing.caller import SimulatedCaller
from patter_core.testing.simulation import CarrierSimulator
from patter_twilio.carrier import Twilio
from patter_twilio.testing.fake_api import FakeTwilioAPI

__all__ = ["TwilioSimulator"]


class TwilioSimulator(CarrierSimulator[Twilio]):
    """``options`` are passed to :class:`~patter_twilio.Twilio` (e.g. ``async_amd=False``)."""

    def __init__(self, *, webhook_host: str, **options: Any) -> None:
        super().__init__(webhook_host=webhook_host, **options)
        self.api = FakeTwilioAPI(webhook_url=webhook_host)

    async def start_network(self) -> None:
        await self.api.start()

    async def stop_network(self) -> None:
        await self.api.stop()

    def make_carrier(self) -> Twilio:
        return Twilio(
            account_sid=self.api.account_sid,
            auth_token=self.api.auth_token,
            base_url=self.api.base_url,
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
        self.api.attach(server)
        simulator = self.api.inbound_call(from_=caller, to=callee, realtime=realtime)
        await simulator.connect()
        return simulator.live
