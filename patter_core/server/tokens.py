"""Per-call credentials: short-lived, signed, stateless tokens binding a media stream to a call.

The webhook that admits a call issues a token; the carrier hands it back when it opens the media
WebSocket (as a stream parameter, a header or a URL segment). Because the token is an HMAC-signed
statement (call id, expiry, claims) and not a server-side session, any instance that shares the secret
can accept the stream -- no shared memory between processes.

Format: ``v1.<base64url(json payload)>.<base64url(hmac-sha256(secret, "v1." + payload))>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping

__all__ = ["CallTokens", "resolve_secret"]

_PREFIX = "v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def resolve_secret(secret: str | bytes | None) -> tuple[bytes, bool]:
    """The signing secret: ``secret``, else ``$PATTER_SECRET``, else a random one for this process.

    Returns ``(secret, shared)`` where ``shared`` is ``False`` for the random fallback (then a stream
    must reach the same process that answered its webhook).
    """
    value = secret if secret is not None else os.environ.get("PATTER_SECRET")
    if value is None or (isinstance(value, str) and not value.strip()):
        return secrets.token_bytes(32), False
    raw = value.encode() if isinstance(value, str) else value
    if len(raw) < 16:
        raise ValueError(
            "the Patter secret must be at least 16 bytes: use e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    return raw, True


class CallTokens:
    """Issues and verifies per-call tokens."""

    def __init__(
        self, secret: bytes, *, ttl_s: float = 600.0, clock: Callable[[], float] = time.time
    ) -> None:
        if len(secret) < 16:
            raise ValueError("token secret must be at least 16 bytes")
        self._key = hashlib.sha256(b"patter-call-token|" + secret).digest()
        self.ttl_s = ttl_s
        self._clock = clock

    def issue(self, call_id: str, **claims: str) -> str:
        payload = {
            "cid": call_id,
            "exp": int(self._clock() + self.ttl_s),
            "n": secrets.token_hex(6),
            "c": claims,
        }
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{_PREFIX}.{body}.{self._sign(body)}"

    def verify(self, token: str | None, call_id: str) -> Mapping[str, str] | None:
        """The claims when ``token`` is authentic, unexpired and issued for ``call_id``; else None."""
        if not token or not isinstance(token, str) or len(token) > 4096 or not token.isascii():
            return None  # (hmac.compare_digest raises TypeError on non-ASCII text: refuse it first)
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _PREFIX:
            return None
        _, body, signature = parts
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            payload = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(payload, dict) or payload.get("cid") != call_id:
            return None
        exp = payload.get("exp")
        if not isinstance(exp, int) or exp < self._clock():
            return None
        claims = payload.get("c")
        if not isinstance(claims, dict):
            return None
        return {str(k): str(v) for k, v in claims.items()}

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, f"{_PREFIX}.{body}".encode(), hashlib.sha256).digest())
