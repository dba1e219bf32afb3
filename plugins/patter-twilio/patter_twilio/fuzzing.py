"""Fuzz targets for the Twilio plugin's parsers of untrusted input (see :mod:`patter_core.testing.fuzz`).

* ``twilio-media`` -- the Media Streams dialect: any frame gives an event, ``None`` or
  ``MalformedFrame``, never another exception;
* ``twilio-signature`` -- ``X-Twilio-Signature`` validation: a mutated signature never validates; only
  the exact signature of the exact URL and parameters does.
"""

from __future__ import annotations

import base64

from patter_core.testing.fuzz import Feed, FuzzTarget, dialect_target
from patter_core.testing.mutate import Message
from patter_twilio.dialect import TwilioDialect
from patter_twilio.signature import SignatureValidator, compute_signature
from patter_twilio.testing.simulator import TwilioCallerDialect

__all__ = ["fuzz_targets"]

_TOKEN = "fuzz-auth-token-0123456789abcdef"
_URL = "https://agent.example.com/webhooks/twilio/voice"
_PARAMS = {"CallSid": "CA" + "1" * 32, "From": "+15550001111", "To": "+15550002222"}


def _media() -> FuzzTarget:
    caller = TwilioCallerDialect(
        call_sid="CA" + "1" * 32,
        stream_sid="MZ" + "2" * 32,
        account_sid="AC" + "3" * 32,
        custom_parameters={"token": "v1.abc.def"},
    )
    frames = [
        caller.connected(),
        caller.start(),
        caller.media(b"\xff\x7f" * 80, 0, 0),
        caller.mark("seg-1:100"),
        caller.dtmf("7"),
        caller.stop(),
    ]
    return dialect_target("twilio-media", TwilioDialect, frames)


def _signature() -> FuzzTarget:
    validator = SignatureValidator(_TOKEN)
    valid = compute_signature(_URL, _PARAMS, _TOKEN)

    def make() -> Feed:
        def feed(message: Message) -> None:
            signature = message if isinstance(message, str) else message.decode("latin-1")
            accepted = validator.validate(_URL, signature, params=_PARAMS)
            if accepted and signature.strip() != valid:
                raise AssertionError(f"signature {signature!r} validated but is not the exact one")
            if signature == valid and not accepted:
                raise AssertionError("the exact signature was refused")

        return feed

    near_miss = base64.b64encode(bytes(20)).decode()
    return FuzzTarget("twilio-signature", (valid, near_miss, valid.lower()), make)


def fuzz_targets() -> list[FuzzTarget]:
    return [_media(), _signature()]
