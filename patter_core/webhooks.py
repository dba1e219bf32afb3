"""Outgoing webhooks (webhook tools, remote ``on_message`` endpoints): signed, bounded, SSRF-guarded.

Every request carries::

    X-Patter-Timestamp: <unix seconds>
    X-Patter-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

so the receiver can verify it (:func:`verify_signature` is the reference implementation; reject
timestamps more than 300 s away to stop replays). Requests time out, responses larger than
``max_response_bytes`` are refused, and the destination is checked *after DNS resolution*: private,
loopback, link-local (cloud metadata), multicast and reserved addresses are refused unless
``allow_private=True``; the connection is then pinned to the checked address (TLS still verifies the
host name), so DNS rebinding cannot swap it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import os
import socket
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from patter_core.errors import ConfigurationError, ToolError
from patter_core.tools import Tool, ToolContext

__all__ = ["SSRFError", "post_signed", "sign_body", "verify_signature", "webhook_tool"]

SIGNATURE_HEADER = "X-Patter-Signature"
TIMESTAMP_HEADER = "X-Patter-Timestamp"


class SSRFError(ToolError):
    """The destination resolves to an address outbound webhooks may not reach."""


def sign_body(secret: str | bytes, timestamp: int, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify_signature(
    secret: str | bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance_s: int = 300,
    now: float | None = None,
) -> bool:
    """Receiver side: constant-time check of :data:`SIGNATURE_HEADER` and the timestamp window."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError, OverflowError):
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance_s:
        return False
    if not isinstance(signature, str) or not signature.isascii():
        return False  # hmac.compare_digest raises TypeError on non-ASCII text
    return hmac.compare_digest(sign_body(secret, ts, body), signature)


def _address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


async def _resolve_checked(host: str, port: int, allow_private: bool) -> str:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise SSRFError(f"{host} does not resolve")
    if not allow_private:
        bad = [a for a in addresses if not _address_allowed(str(a))]
        if bad:
            raise SSRFError(
                f"refusing to call {host}: it resolves to a private/loopback/link-local address ({bad[0]}); "
                "pass allow_private=True if this destination is intended"
            )
    return str(addresses[0])


async def post_signed(
    url: str,
    payload: Mapping[str, Any],
    *,
    secret: str | bytes | None,
    timeout: float = 10.0,
    max_response_bytes: int = 64 * 1024,
    allow_private: bool = False,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """POST ``payload`` as JSON, signed; returns the response body (bounded). Raises :class:`ToolError`."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(f"webhook URL must be http(s)://host/..., got {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    timestamp = int(time.time())
    request_headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(timestamp)}
    if secret:
        request_headers[SIGNATURE_HEADER] = sign_body(secret, timestamp, body)
    request_headers.update(headers or {})
    try:
        async with asyncio.timeout(timeout):
            address = await _resolve_checked(parts.hostname, port, allow_private)
            netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
            pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
            request_headers["Host"] = parts.netloc.rsplit("@", 1)[-1]
            async with (
                httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client,
                client.stream(
                    "POST",
                    pinned,
                    content=body,
                    headers=request_headers,
                    extensions={"sni_hostname": parts.hostname},
                ) as response,
            ):
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > max_response_bytes:
                        raise ToolError(f"webhook response larger than {max_response_bytes} bytes")
                if not response.is_success:
                    raise ToolError(f"webhook answered HTTP {response.status_code}")
                return bytes(data)
    except TimeoutError:
        raise ToolError(f"webhook did not answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise ToolError(f"webhook request failed: {type(exc).__name__}: {exc}") from None
    except OSError as exc:
        raise ToolError(f"webhook destination unreachable: {exc}") from None


def webhook_tool(
    name: str,
    url: str,
    *,
    description: str,
    parameters: Mapping[str, Any] | None = None,
    secret: str | None = None,
    timeout: float = 10.0,
    max_response_bytes: int = 64 * 1024,
    allow_private: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Tool:
    """A tool whose handler is an HTTPS endpoint you run.

    It receives ``{"tool": name, "arguments": {...}, "call": {"call_id", "caller", "callee"}}`` signed with
    ``secret`` (default ``$PATTER_WEBHOOK_SECRET``); its response body (text or JSON) is the tool result.
    """
    secret = secret if secret is not None else os.environ.get("PATTER_WEBHOOK_SECRET")
    if not secret:
        raise ConfigurationError(
            f"webhook tool {name!r} needs a signing secret: pass secret= or set PATTER_WEBHOOK_SECRET "
            "(the endpoint verifies X-Patter-Signature with it)"
        )
    if not url.startswith("https://") and not allow_private:
        raise ConfigurationError(
            f"webhook tool {name!r} must use https:// (or pass allow_private=True for local tests)"
        )

    async def call_webhook(context: ToolContext, **_arguments: Any) -> str:
        call = context.call
        payload = {
            "tool": name,
            "arguments": dict(context.arguments),
            "call": {"call_id": call.call_id, "caller": call.caller, "callee": call.callee} if call else None,
        }
        data = await post_signed(
            url,
            payload,
            secret=secret,
            timeout=timeout,
            max_response_bytes=max_response_bytes,
            allow_private=allow_private,
            headers=headers,
        )
        return data.decode("utf-8", errors="replace")

    return Tool(
        name=name,
        description=description,
        parameters=dict(parameters or {"type": "object", "properties": {}}),
        handler=call_webhook,
        timeout=timeout + 1,
        context_param="context",
    )
