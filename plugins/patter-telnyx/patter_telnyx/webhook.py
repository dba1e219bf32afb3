"""The ``POST /webhooks/telnyx/voice`` front door: verify, parse, hand over -- and never a 5xx.

* signature missing, wrong, or stale (outside ±300 s) -> **403**;
* signed but not JSON, or not a Call Control event envelope -> **400**;
* anything else -> **200** at once (Telnyx wants a fast 2xx, or it retries); the event itself is handled
  in the background, and unknown event types are simply ignored.

Verification is on unless the developer explicitly serves with ``verify_webhooks=False``; with no public
key configured, :meth:`WebhookEndpoint.configure` (called by ``Patter.serve`` through
``Carrier.check_ready``) refuses to start. The reference SDK instead answers 503 to every webhook at run
time, which only shows up when a real call fails.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from patter_core.errors import ConfigurationError
from patter_core.server.http import BadRequest, HttpRequest, HttpResponse
from patter_telnyx.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, WebhookVerifier

__all__ = ["WebhookEndpoint"]

log = logging.getLogger("patter.telnyx")

Event = tuple[str, Mapping[str, Any], str | None]


class WebhookEndpoint:
    def __init__(
        self,
        public_key: str | None,
        *,
        tolerance_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.verifier = (
            WebhookVerifier(public_key, tolerance_s=tolerance_s, clock=clock) if public_key else None
        )
        self.verify = True
        self.refused = 0

    def configure(self, *, verify: bool) -> None:
        if verify and self.verifier is None:
            raise ConfigurationError(
                "TELNYX_PUBLIC_KEY is not set, so Telnyx webhooks cannot be verified: pass "
                "Telnyx(public_key=...) or set TELNYX_PUBLIC_KEY to the base64 public key from the Telnyx "
                "portal (Account Settings > Keys & Credentials > Public Key); for local experiments only, "
                "serve(..., verify_webhooks=False)"
            )
        if not verify:
            log.warning(
                "Telnyx webhook signatures are NOT verified (verify_webhooks=False): never do this in production"
            )
        self.verify = verify

    def accept(self, request: HttpRequest) -> HttpResponse | Event:
        """The event in ``request``, or the response that refuses it."""
        if self.verify:
            if self.verifier is None:
                self.refused += 1
                log.error("Telnyx webhook refused: no public key configured (set TELNYX_PUBLIC_KEY)")
                return HttpResponse.forbidden("webhook verification is not configured")
            try:
                self.verifier.verify(
                    signature=request.header(SIGNATURE_HEADER),
                    timestamp=request.header(TIMESTAMP_HEADER),
                    body=request.body,
                )
            except SignatureError as exc:
                self.refused += 1
                log.warning("Telnyx webhook refused (403): %s", exc)
                return HttpResponse.forbidden("invalid signature")
        envelope = request.json()
        data = envelope.get("data") if isinstance(envelope, dict) else None
        if not isinstance(data, dict):
            raise BadRequest("not a Telnyx event envelope: no data object")
        event_type, payload = data.get("event_type"), data.get("payload")
        if not isinstance(event_type, str) or not isinstance(payload, dict):
            raise BadRequest("not a Telnyx Call Control event: event_type and payload are required")
        event_id = data.get("id")
        return event_type, payload, event_id if isinstance(event_id, str) else None
