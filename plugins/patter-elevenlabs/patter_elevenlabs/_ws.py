"""Opening ElevenLabs WebSockets, with handshake failures mapped onto Patter's errors."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from patter_core.errors import ProviderConnectionError

__all__ = ["PROVIDER", "close_description", "open_websocket", "redact"]

PROVIDER = "elevenlabs"


def redact(url: str) -> str:
    """``url`` without its query string (signed URLs carry a secret signature there)."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


async def open_websocket(
    url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 10.0
) -> ClientConnection:
    """Connect to ``url``; :class:`ProviderConnectionError` (``fatal`` for 4xx) when that fails."""
    try:
        return await connect(
            url,
            additional_headers=dict(headers or {}),
            open_timeout=timeout,
            close_timeout=2.0,
            compression=None,  # base64 audio in JSON: deflate costs latency and CPU for little gain
            max_size=16 * 1024 * 1024,
            user_agent_header="patter",
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        body = bytes(exc.response.body or b"")[:500].decode("utf-8", errors="replace").strip()
        hint = ""
        if status in (401, 403):
            hint = " (check the API key: pass api_key= or set the ELEVENLABS_API_KEY environment variable)"
        raise ProviderConnectionError(
            f"WebSocket handshake with {redact(url)} failed: HTTP {status} {body}{hint}".rstrip(),
            provider=PROVIDER,
            code=str(status),
            fatal=400 <= status < 500,
        ) from exc
    except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
        raise ProviderConnectionError(
            f"could not connect to {redact(url)}: {type(exc).__name__}: {exc}", provider=PROVIDER
        ) from exc


def close_description(exc: ConnectionClosed) -> tuple[int, str]:
    """``(code, reason)`` of a closed connection; 1006 when no close frame was received."""
    if exc.rcvd is not None:
        return exc.rcvd.code, exc.rcvd.reason
    return 1006, "connection dropped without a close frame"
