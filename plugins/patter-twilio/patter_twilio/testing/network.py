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


class TwilioSimulator(CarrierSimulator):
    """``options`` are passed to :class:`~patter_twilio.Twilio` (e.g. ``async_amd=False``)."""

    def __init__(self, *, webhook_host: str, **options: Any) -> None:
        super().__init__(webhook_host=webhook_host, **options)
        self.api = FakeTwilioAPI(webhook_url=webhook_host)
        self._carrier: Twilio | None = None

    async def start(self) -> None:
        await self.api.start()
        self._carrier = Twilio(
            account_sid=self.api.account_sid,
            auth_token=self.api.auth_token,
            base_url=self.api.base_url,
            **self.options,
        )

    async def stop(self) -> None:
        await self.api.stop()
        if self._carrier is not None:
            await self._carrier.aclose()

    @property
    def carrier(self) -> Twilio:
        if self._carrier is None:
            raise RuntimeError("start the simulator first (async with TwilioSimulator(...) as sim)")
        return self._carrier

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
