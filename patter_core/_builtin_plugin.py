"""Providers that ship with the core itself (dependency-free defaults)."""

from __future__ import annotations

from typing import Any

from patter_core.hookspecs import hookimpl


def _energy_vad(**options: Any) -> Any:
    from patter_core.audio import EnergyVAD

    return EnergyVAD(**options)


def _simulated_carrier(**options: Any) -> Any:
    from patter_core.testing.carrier import FakeCarrier

    return FakeCarrier(**options)


@hookimpl
def register_carriers(register: Any) -> None:
    register(
        _simulated_carrier,
        name="simulated",
        description="an in-process carrier for demos and tests (no telephone network)",
        simulator="patter_core.testing.simulation:FakeCarrierSimulator",
        default_priority=-1,
        offline=True,
    )


@hookimpl
def register_vads(register: Any) -> None:
    register(
        _energy_vad, name="energy", description="energy VAD with hysteresis (no model)", default_priority=0
    )
