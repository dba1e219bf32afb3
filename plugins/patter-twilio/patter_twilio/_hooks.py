"""Registers the Twilio carrier with Patter (entry point ``twilio`` in group ``patter``)."""

from __future__ import annotations

from typing import Any

from patter_core.hookspecs import hookimpl

__all__ = ["register_carriers"]


@hookimpl
def register_carriers(register: Any) -> None:
    from patter_twilio.carrier import Twilio

    register(
        Twilio,
        name="twilio",
        description="Twilio Programmable Voice with bidirectional Media Streams (mu-law 8 kHz)",
        env=["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"],
        simulator="patter_twilio.testing.network:TwilioSimulator",
        default_priority=10,
    )
