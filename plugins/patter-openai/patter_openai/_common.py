"""What every OpenAI provider shares: the API root, the credential, and one HTTP client per event loop.

``base_url`` is the API root as the official SDK names it (``https://api.openai.com/v1``); it falls back
to ``OPENAI_BASE_URL`` like the SDK does. The Realtime WebSocket URL is derived from it, so one
``base_url`` points every provider of this package at a proxy, a regional endpoint or a local fake.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Final

import httpx

from patter_core.providers import new_http_client, require_api_key, resolve_base_url

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "PROVIDER",
    "HttpClientHolder",
    "OpenAICredentials",
    "as_object",
]

log = logging.getLogger("patter.openai")

DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
API_KEY_ENV: Final = "OPENAI_API_KEY"
BASE_URL_ENV: Final = "OPENAI_BASE_URL"
PROVIDER: Final = "openai"


class OpenAICredentials:
    """An API key (``api_key=`` or ``$OPENAI_API_KEY``) and the API root, resolved once at construction."""

    __slots__ = ("_api_key", "base_url")

    def __init__(self, api_key: str | None, base_url: str | None) -> None:
        self._api_key = require_api_key(api_key, env=API_KEY_ENV, provider="OpenAI")
        self.base_url = resolve_base_url(base_url, default=DEFAULT_BASE_URL, env=BASE_URL_ENV)

    @property
    def headers(self) -> dict[str, str]:
        """The request headers that authenticate with the key (never logged)."""
        return {"Authorization": f"Bearer {self._api_key}"}

    def __repr__(self) -> str:  # never show the key
        return f"OpenAICredentials(base_url={self.base_url!r})"


class HttpClientHolder:
    """One pooled ``httpx.AsyncClient`` per event loop for a provider shared between calls.

    Provider objects outlive event loops in tests and scripts; a client (and its connections) must not
    be reused on another loop, so a client is created lazily for the running loop and replaced when the
    loop changes.
    """

    def __init__(self, credentials: OpenAICredentials, *, timeout: float, connect_timeout: float) -> None:
        self._credentials = credentials
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop or self._client.is_closed:
            self._client = new_http_client(
                self._credentials.base_url,
                headers=self._credentials.headers,
                timeout=self._timeout,
                connect_timeout=self._connect_timeout,
            )
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        client, self._client, self._loop = self._client, None, None
        if client is not None and not client.is_closed:
            try:
                await client.aclose()
            except RuntimeError:  # created on a loop that is gone
                log.debug("HTTP client belonged to a closed event loop", exc_info=True)


def as_object(value: object) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, else an empty one (tolerant parsing of vendor events)."""
    return value if isinstance(value, Mapping) else {}
