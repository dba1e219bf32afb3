"""Patter plugin for Twilio: the ``twilio`` carrier.

* :class:`Twilio` -- the carrier: voice/status/AMD webhooks, the Media Streams WebSocket, outbound
  calls, hang-up, cold and warm transfer, recording.
* :class:`TwilioDialect` -- Media Streams frames (PROTOCOLS §1.4).
* :func:`compute_signature` / :class:`SignatureValidator` -- ``X-Twilio-Signature`` (§1.5).

Test doubles (a caller simulator that behaves like Twilio, and a fake REST API) live in
:mod:`patter_twilio.testing`.
"""

from patter_twilio.carrier import Twilio
from patter_twilio.dialect import TwilioDialect
from patter_twilio.signature import SignatureValidator, compute_signature

__all__ = ["SignatureValidator", "Twilio", "TwilioDialect", "compute_signature"]
__version__ = "0.1.0"
