"""Signed Telnyx webhooks, as Telnyx sends them (PROTOCOLS.md §2.2-2.3).

:data:`TEST_PRIVATE_KEY` is the PROTOCOLS.md test key (seed = bytes 0..31, NOT a real key); its public
half is :data:`TEST_PUBLIC_KEY`. :class:`WebhookSender` builds the JSON envelope, signs
``timestamp|body`` with Ed25519 and POSTs it. Knobs for delivery faults Telnyx really produces:

* ``duplicates=N`` -- every event is delivered N times, concurrently;
* ``max_delay_s`` -- each delivery waits a (seeded) random delay first, so events overtake each other;
* ``send(..., timestamp=..., key=..., body=...)`` -- stale timestamps, wrong keys, forged bodies.

Every delivery is recorded in ``deliveries`` with the status the server answered.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "TEST_PRIVATE_KEY",
    "TEST_PUBLIC_KEY",
    "Delivery",
    "WebhookSender",
    "envelope",
    "sign_webhook",
]

TEST_PRIVATE_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
TEST_PUBLIC_KEY = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="


def sign_webhook(body: bytes, timestamp: str, key: Ed25519PrivateKey = TEST_PRIVATE_KEY) -> str:
    """The ``telnyx-signature-ed25519`` header value for ``body`` sent at ``timestamp``."""
    return base64.b64encode(key.sign(timestamp.encode() + b"|" + body)).decode()


def envelope(
    event_type: str, payload: Mapping[str, Any], *, event_id: str | None = None, delivered_to: str = ""
) -> bytes:
    occurred = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    data = {
        "data": {
            "record_type": "event",
            "event_type": event_type,
            "id": event_id or str(uuid.uuid4()),
            "occurred_at": occurred,
            "payload": dict(payload),
        },
        "meta": {"attempt": 1, "delivered_to": delivered_to},
    }
    return json.dumps(data, separators=(",", ":")).encode()


@attrs.define
class Delivery:
    event_type: str
    event_id: str
    status: int


class WebhookSender:
    def __init__(
        self,
        url: str | None = None,
        *,
        public_url: str = "",
        key: Ed25519PrivateKey = TEST_PRIVATE_KEY,
        duplicates: int = 1,
        max_delay_s: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.url = url
        """Where to POST (``http://127.0.0.1:{port}/webhooks/telnyx/voice``)."""
        self.public_url = public_url
        """What ``meta.delivered_to`` says (the public ``https://`` URL Telnyx was configured with)."""
        self.key = key
        self.duplicates = duplicates
        self.max_delay_s = max_delay_s
        self._random = random.Random(seed)
        self.deliveries: list[Delivery] = []
        self._client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        event_id: str | None = None,
        timestamp: str | None = None,
        key: Ed25519PrivateKey | None = None,
        body: bytes | None = None,
        signature: str | None = None,
    ) -> list[int]:
        """Deliver one event (``duplicates`` times); returns the HTTP statuses."""
        if self.url is None:
            raise RuntimeError("WebhookSender.url is not set: point it at the server's webhook route")
        event_id = event_id or str(uuid.uuid4())
        raw = envelope(event_type, payload, event_id=event_id, delivered_to=self.public_url)
        signed_body = raw if body is None else body
        stamp = timestamp if timestamp is not None else str(int(time.time()))
        header = signature if signature is not None else sign_webhook(raw, stamp, key or self.key)
        delays = [self._random.uniform(0, self.max_delay_s) for _ in range(max(1, self.duplicates))]
        results = await asyncio.gather(*(self._post(signed_body, stamp, header, d) for d in delays))
        for status in results:
            self.deliveries.append(Delivery(event_type, event_id, status))
        return list(results)

    async def _post(self, body: bytes, timestamp: str, signature: str, delay: float) -> int:
        if delay:
            await asyncio.sleep(delay)
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=10)
        assert self.url is not None
        response = await self._client.post(
            self.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "telnyx-signature-ed25519": signature,
                "telnyx-timestamp": timestamp,
            },
        )
        return response.status_code
