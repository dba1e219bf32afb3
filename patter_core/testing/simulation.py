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
from typing import Any

import httpx

from patter_core.errors import ConfigurationError
from patter_core.interfaces.carrier import Carrier
from patter_core.registry import Registry
from patter_core.testing.caller import SimulatedCaller
from patter_core.testing.carrier import FakeCallerDialect, FakeCarrier, sign_fake_webhook

__all__ = ["CarrierSimulator", "FakeCarrierSimulator", "load_simulator"]


class CarrierSimulator(abc.ABC):
    """Use as ``async with Simulator(webhook_host=...) as sim:``; then ``sim.carrier`` and ``sim.call``."""

    def __init__(self, *, webhook_host: str, **options: Any) -> None:
        self.webhook_host = webhook_host
        self.options = options

    async def __aenter__(self) -> CarrierSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:  # noqa: B027 - optional
        """Start fake REST APIs and the like."""

    async def stop(self) -> None:  # noqa: B027 - optional
        """Stop what :meth:`start` started."""

    @property
    @abc.abstractmethod
    def carrier(self) -> Carrier:
        """The carrier object to serve with, pointed at this simulator."""

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


class FakeCarrierSimulator(CarrierSimulator):
    """The simulator of the core's :class:`FakeCarrier` (its webhook returns the stream URL and token)."""

    def __init__(self, *, webhook_host: str, **options: Any) -> None:
        super().__init__(webhook_host=webhook_host, **options)
        self._carrier = FakeCarrier(secret=secrets.token_hex(16))
        self._count = 0

    @property
    def carrier(self) -> FakeCarrier:
        return self._carrier

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
                headers={"X-Fake-Signature": sign_fake_webhook(self._carrier.secret, body)},
            )
        response.raise_for_status()
        answer = response.json()
        path = answer["stream_url"].split(self.webhook_host, 1)[1]
        ws = server.replace("http://", "ws://").replace("https://", "wss://") + path
        simulated = SimulatedCaller(ws, FakeCallerDialect(call_id, answer["token"]), realtime=realtime)
        await simulated.connect()
        return simulated


def load_simulator(registry: Registry, carrier: str | None) -> tuple[str, type[CarrierSimulator]]:
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
