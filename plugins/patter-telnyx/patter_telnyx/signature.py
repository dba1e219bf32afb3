"""Telnyx webhook signatures: Ed25519 over ``timestamp|raw body`` (PROTOCOLS.md §2.3).

Headers ``telnyx-signature-ed25519`` (base64 of a 64-byte signature) and ``telnyx-timestamp`` (Unix
seconds). A webhook is accepted when its timestamp is within ±300 s of now (the official SDK's
symmetric window; replays outside it are rejected) and one of its signatures verifies against the
account's public key. The accepted superset, as PROTOCOLS.md recommends: the key as base64 of the raw
32 bytes (what the portal shows) *or* of an SPKI/DER structure (or a PEM block), and a comma-separated
signature list where any valid one wins (key rotation). Millisecond timestamps are *not* promoted.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

from patter_core.errors import ConfigurationError

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "SignatureError",
    "WebhookVerifier",
    "load_public_key",
]

SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
DEFAULT_TOLERANCE_S = 300
_MAX_SIGNATURES = 8

_KEY_HINT = (
    "pass the base64 public key shown in the Telnyx portal (Account Settings > Keys & Credentials > "
    "Public Key) as Telnyx(public_key=...) or TELNYX_PUBLIC_KEY"
)


class SignatureError(Exception):
    """The webhook is not provably from Telnyx (the handler answers 403)."""


def load_public_key(value: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from base64 (raw 32 bytes or SPKI/DER) or a PEM block."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = load_pem_public_key(text.encode())
        else:
            raw = base64.b64decode("".join(text.split()), validate=True)
            key = Ed25519PublicKey.from_public_bytes(raw) if len(raw) == 32 else load_der_public_key(raw)
    except (ValueError, binascii.Error, TypeError) as exc:
        raise ConfigurationError(
            f"the Telnyx public key is not a valid Ed25519 key ({exc}): {_KEY_HINT}"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigurationError(f"the Telnyx public key is not an Ed25519 key: {_KEY_HINT}")
    return key


class WebhookVerifier:
    """Verifies webhook signatures with one public key."""

    def __init__(
        self,
        public_key: str | bytes | Ed25519PublicKey,
        *,
        tolerance_s: float = DEFAULT_TOLERANCE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = public_key if isinstance(public_key, Ed25519PublicKey) else load_public_key(public_key)
        self.tolerance_s = tolerance_s
        self._clock = clock

    def verify(self, *, signature: str | None, timestamp: str | None, body: bytes) -> None:
        """Return if authentic and fresh; raise :class:`SignatureError` saying why not."""
        if not signature:
            raise SignatureError(f"missing {SIGNATURE_HEADER} header")
        if not timestamp:
            raise SignatureError(f"missing {TIMESTAMP_HEADER} header")
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            raise SignatureError("telnyx-timestamp is not a Unix time in seconds")
        skew = self._clock() - int(timestamp)
        if abs(skew) > self.tolerance_s:
            raise SignatureError(f"timestamp outside the {self.tolerance_s:.0f} s window (skew {skew:.0f} s)")
        message = timestamp.encode("ascii") + b"|" + body
        candidates = [part.strip() for part in signature.split(",") if part.strip()][:_MAX_SIGNATURES]
        for candidate in candidates:
            try:
                raw = base64.b64decode(candidate, validate=True)
            except (ValueError, binascii.Error):
                continue
            if len(raw) != 64:
                continue
            try:
                self._key.verify(raw, message)
                return
            except InvalidSignature:
                continue
        raise SignatureError("no valid Ed25519 signature for this body and timestamp")
