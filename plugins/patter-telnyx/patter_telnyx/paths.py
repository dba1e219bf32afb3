"""Route paths (a contract: DESIGN.md) and the reversible encoding of a call id in a URL segment.

A ``call_control_id`` looks like ``v3:T02llQx...`` and may contain ``:``, ``-``, ``_`` and in principle
``/`` or ``%``; a WebSocket path is percent-decoded by the server before routing, so percent-encoding
alone is not safe for a path segment. The stream path therefore carries the id as unpadded base64url
(``[A-Za-z0-9_-]`` only): reversible, routing-safe, and never altered by proxies.
"""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["STREAM_PATH", "WEBHOOK_PATH", "decode_call_id", "encode_call_id", "stream_path"]

WEBHOOK_PATH = "/webhooks/telnyx/voice"
STREAM_PATH = "/ws/telnyx/stream/{call_id}"

_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,700}$")


def encode_call_id(call_control_id: str) -> str:
    return base64.urlsafe_b64encode(call_control_id.encode("utf-8")).rstrip(b"=").decode("ascii")


def decode_call_id(segment: str) -> str | None:
    """The call id encoded in ``segment``; ``None`` if it is not a valid encoding."""
    if not _SEGMENT.match(segment or ""):
        return None
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        call_id = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if not call_id or not call_id.isprintable() or encode_call_id(call_id) != segment:
        return None
    return call_id


def stream_path(call_control_id: str) -> str:
    return STREAM_PATH.replace("{call_id}", encode_call_id(call_control_id))
