"""HTTP clients for providers and one mapping from HTTP failures to :class:`ProviderError`."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from patter_core.errors import ProviderError

__all__ = ["new_http_client", "raise_for_provider_status"]

_USER_AGENT = "patter (+https://github.com/patter)"


def new_http_client(
    base_url: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    connect_timeout: float = 10.0,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` rooted at ``base_url`` with sane timeouts and no telemetry headers."""
    merged = {"User-Agent": _USER_AGENT}
    merged.update(headers or {})
    return httpx.AsyncClient(
        base_url=base_url,
        headers=merged,
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        follow_redirects=False,
    )


async def raise_for_provider_status(response: httpx.Response, *, provider: str) -> None:
    """Raise :class:`ProviderError` with the vendor's error message for a non-2xx response.

    Reads at most 64 KiB of the body. 401/403 name the credential as the likely fix.
    """
    if response.is_success:
        return
    body = b""
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > 65536:
                break
    except httpx.HTTPError:
        pass
    text = body[:2000].decode("utf-8", errors="replace").strip()
    hint = ""
    if response.status_code in (401, 403):
        hint = " (check the API key: pass api_key= or set the provider's environment variable)"
    raise ProviderError(
        f"HTTP {response.status_code} from {response.request.url.path}: {text or response.reason_phrase}{hint}",
        provider=provider,
        code=str(response.status_code),
        fatal=response.status_code in (400, 401, 403, 404),
    )
