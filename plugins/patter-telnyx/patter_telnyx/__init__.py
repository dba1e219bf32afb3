"""Patter plugin for Telnyx: the carrier ``telnyx`` (Call Control v2 + bidirectional media streaming).

* :class:`Telnyx` -- the carrier provider.
* :class:`TelnyxDialect` -- the media-stream frames; :class:`WebhookVerifier` -- Ed25519 webhook checks.
* :data:`L16` / :data:`PCMU` -- the stream codecs (L16 is big-endian 16 kHz: see :mod:`patter_telnyx.codec`).

A Telnyx simulator for tests (signed webhooks, a fake Call Control API that opens the media stream,
a simulated caller) lives in :mod:`patter_telnyx.testing`.
"""

from patter_telnyx.carrier import DEFAULT_BASE_URL, Telnyx
from patter_telnyx.codec import L16, PCMU, StreamCodec
from patter_telnyx.dialect import TelnyxDialect
from patter_telnyx.paths import decode_call_id, encode_call_id
from patter_telnyx.rest import TelnyxAPI, TelnyxAPIError
from patter_telnyx.signature import SignatureError, WebhookVerifier, load_public_key

__all__ = [
    "DEFAULT_BASE_URL",
    "L16",
    "PCMU",
    "SignatureError",
    "StreamCodec",
    "Telnyx",
    "TelnyxAPI",
    "TelnyxAPIError",
    "TelnyxDialect",
    "WebhookVerifier",
    "decode_call_id",
    "encode_call_id",
    "load_public_key",
]
__version__ = "0.1.0"
