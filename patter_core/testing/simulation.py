"""Carrier simulators: a carrier's network in a box, so a whole call runs offline over its real protocol.

A carrier plugin exposes one by registering its carrier with ``simulator="module:Class"`` metadata.
The simulator starts the carrier's fake REST API, builds a carrier object pointed at it with test
credentials, and places simulated inbound calls at a running Patter server exactly as the carrier
would (a signed webhook, then the media WebSocket its answer asks for), returning a connected
:class:`~patter_core.testing.caller.SimulatedCaller`.
"""

from __future__ import annotations

import abc
import importlib
import json
import secrets
from typing import Any, Generic, Self, TypeVar

import httpx

from patter_core.errors import ConfigurationError
from patter_core.interfaces.carrier import Carrier
from patter_core.registry import Registry
from patter_core.testing.caller import SimulatedCaller
from patter_core.testing.carrier import FakeCallerDialect, FakeCarrier, sign_fake_webhook

__all__ = ["CarrierSimulator", "FakeCarrierSimulator", "load_simulator"]


C = TypeVar("C", bound=Carrier)


class CarrierSimulator(abc.ABC, Generic[C]):
    """Use as ``async with Simulator(webhook_host=...) as sim:``; then ``sim.carrier`` and ``sim.call``.

    A simulator implements :meth:`make_carrier` (the carrier pointed at its fakes) and :meth:`call`,
    and starts/stops its fakes in :meth:`start_network` / :meth:`stop_network`; the carrier's lifecycle
    (built after the fakes start, closed before they stop) is this class's.
    """

    def __init__(self, *, webhook_host: str, **options: Any) -> None:
        self.webhook_host = webhook_host
        self.options = options
        self._carrier: C | None = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        await self.start_network()
        self._carrier = self.make_carrier()

    async def stop(self) -> None:
        """Close the carrier (kept for inspection afterwards), then stop the fakes."""
        try:
            if self._carrier is not None:
                await self._carrier.aclose()
        finally:
            await self.stop_network()

    async def start_network(self) -> None:
        """Start fake REST APIs and the like."""

    async def stop_network(self) -> None:
        """Stop what :meth:`start_network` started."""

    @abc.abstractmethod
    def make_carrier(self) -> C:
        """The carrier object to serve with, pointed at this simulator (called once its fakes run)."""

    @property
    def carrier(self) -> C:
        if self._carrier is None:
            raise RuntimeError(f"start the simulator first (async with {type(self).__name__}(...) as sim)")
        return self._carrier

    @abc.abstractmethod
    async def call(
        self,
        server: str,
        *,
        caller: str = "+15550001111",
        callee: str = "+15550002222",
        realtime: bool = True,
    ) -> SimulatedCaller:
        """Place an inbound call at the Patter server listening at ``server`` (``http://127.0.0.1:port``)."""


class FakeCarrierSimulator(CarrierSimulator[FakeCarrier]):
    """The simulator of the core's :class:`FakeCarrier` (its webhook returns the stream URL and token)."""

    def __init__(self, *, webhook_host: str, **options: Any) -> None:
        super().__init__(webhook_host=webhook_host, **options)
        self._count = 0

    def make_carrier(self) -> FakeCarrier:
        return FakeCarrier(secret=secrets.token_hex(16))

    async def call(
        self,
        server: str,
        *,
        caller: str = "+15550001111",
        callee: str = "+15550002222",
        realtime: bool = True,
    ) -> SimulatedCaller:
        self._count += 1
        call_id = f"CAsim{self._count:04d}"
        body = json.dumps({"call_id": call_id, "from": caller, "to": callee}).encode()
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{server}/webhooks/fake/voice",
                content=body,
                headers={"X-Fake-Signature": sign_fake_webhook(self.carrier.secret, body)},
            )
        response.raise_for_status()
        answer = response.json()
        path = answer["stream_url"].split(self.webhook_host, 1)[1]
        ws = server.replace("http://", "ws://").replace("https://", "wss://") + path
        simulated = SimulatedCaller(ws, FakeCallerDialect(call_id, answer["token"]), realtime=realtime)
        await simulated.connect()
        return simulated


def load_simulator(registry: Registry, carrier: str | None) -> tuple[str, type[CarrierSimulator[Any]]]:
    """The simulator class a carrier plugin registered (``simulator="module:Class"`` metadata)."""
    if carrier is None:
        default = registry.default("carrier")
        candidates = [default.name] if default is not None else []
        candidates += [
            n for n in registry.names("carrier") if registry.get("carrier", n).metadata.get("simulator")
        ]
        if not candidates:
            raise ConfigurationError(
                "no installed carrier plugin ships a simulator: install a carrier plugin"
            )
        carrier = candidates[0]
    entry = registry.get("carrier", carrier)
    spec = entry.metadata.get("simulator")
    if spec is None:
        raise ConfigurationError(f"the {carrier!r} carrier plugin ({entry.distribution}) ships no simulator")
    if isinstance(spec, type):
        return carrier, spec
    module_name, _, attr = str(spec).partition(":")
    return carrier, getattr(importlib.import_module(module_name), attr)
