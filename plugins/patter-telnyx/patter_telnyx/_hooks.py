"""Registers the Telnyx carrier with Patter (entry point ``telnyx`` in group ``patter``)."""

from __future__ import annotations

from typing import Any

from patter_core.hookspecs import hookimpl

__all__ = ["register_carriers"]


@hookimpl
def register_carriers(register: Any) -> None:
    from patter_telnyx.carrier import Telnyx

    register(
        Telnyx,
        name="telnyx",
        description="Telnyx Call Control v2 with bidirectional RTP media streaming (L16 16 kHz or PCMU)",
        env=["TELNYX_API_KEY", "TELNYX_CONNECTION_ID", "TELNYX_PUBLIC_KEY"],
        simulator="patter_telnyx.testing.network:TelnyxNetwork",
        default_priority=5,
    )
