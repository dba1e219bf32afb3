"""Fuzz targets for the Telnyx plugin's parsers of untrusted input (see :mod:`patter_core.testing.fuzz`).

* ``telnyx-media`` -- the media-streaming dialect (with its reorder window): any frame gives an event,
  ``None`` or ``MalformedFrame``, never another exception;
* ``telnyx-signature`` -- Ed25519 webhook verification: a mutated signature never verifies (it is
  refused with ``SignatureError``); only the exact signature of this body and timestamp is accepted.
"""

from __future__ import annotations

import base64

from patter_core.testing.fuzz import Feed, FuzzTarget, dialect_target
from patter_core.testing.mutate import Message
from patter_telnyx.dialect import TelnyxDialect
from patter_telnyx.signature import SignatureError, WebhookVerifier
from patter_telnyx.testing.caller import TelnyxCallerDialect
from patter_telnyx.testing.webhooks import TEST_PUBLIC_KEY, envelope, sign_webhook

__all__ = ["fuzz_targets"]

_NOW = 1_700_000_000


def _media() -> FuzzTarget:
    caller = TelnyxCallerDialect("v3:fuzz-call", custom_parameters={"token": "v1.abc.def"})
    frames = [
        caller.connected(),
        caller.start(),
        caller.media(b"\x00\x01" * 160, 0, 0),
        caller.media(b"\x02\x03" * 160, 1, 20),
        caller.mark("seg-1:100"),
        caller.dtmf("7"),
        caller.error(),
        caller.stop(),
    ]
    return dialect_target("telnyx-media", TelnyxDialect, frames)


def _raw(part: str) -> bytes | None:
    try:
        return base64.b64decode(part.strip(), validate=True)
    except ValueError:
        return None


def _signature() -> FuzzTarget:
    verifier = WebhookVerifier(TEST_PUBLIC_KEY, clock=lambda: _NOW)
    body = envelope("call.initiated", {"call_control_id": "v3:fuzz-call"}, event_id="e1")
    timestamp = str(_NOW)
    valid = sign_webhook(body, timestamp)
    raw_valid = base64.b64decode(valid)  # base64 ignores unused trailing bits: compare the bytes

    def make() -> Feed:
        def feed(message: Message) -> None:
            signature = message if isinstance(message, str) else message.decode("latin-1")
            try:
                verifier.verify(signature=signature, timestamp=timestamp, body=body)
            except SignatureError:
                if signature == valid:
                    raise AssertionError("the exact signature was refused") from None
                return
            if raw_valid not in [_raw(part) for part in signature.split(",")]:
                raise AssertionError(f"signature {signature!r} verified but does not hold the exact one")

        return feed

    return FuzzTarget("telnyx-signature", (valid, base64.b64encode(bytes(64)).decode()), make)


def fuzz_targets() -> list[FuzzTarget]:
    return [_media(), _signature()]
