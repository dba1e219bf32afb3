"""Credentials and endpoints, the same way for every provider.

Every network provider takes ``api_key=`` (falling back to its vendor's usual environment variable)
and ``base_url=`` (the vendor's API root as its official SDK names it). WebSocket endpoints are
derived from the base URL by swapping the scheme, so one ``base_url`` points a provider at a proxy,
a regional endpoint or a local fake.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from patter_core.errors import ConfigurationError, MissingCredentialError

__all__ = ["require_api_key", "resolve_base_url", "ws_url"]


def require_api_key(
    api_key: str | None, *, env: str, provider: str, environ: Mapping[str, str] | None = None
) -> str:
    """``api_key`` or the environment variable ``env``; raises an error that names the fix."""
    environ = os.environ if environ is None else environ
    key = api_key if api_key is not None else environ.get(env)
    if key is None or not key.strip():
        raise MissingCredentialError(f"{provider} API key", argument="api_key", env=env)
    return key.strip()


def resolve_base_url(base_url: str | None, *, default: str, env: str | None = None) -> str:
    """The API root without a trailing slash: ``base_url``, else ``$env``, else ``default``."""
    url = base_url or (os.environ.get(env) if env else None) or default
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"base_url must start with http:// or https://, got {url!r}")
    return url.rstrip("/")


def ws_url(base_url: str, path: str = "") -> str:
    """``https://host/v1`` + ``/realtime`` -> ``wss://host/v1/realtime`` (``http`` -> ``ws``)."""
    if base_url.startswith("https://"):
        root = "wss://" + base_url[len("https://") :]
    elif base_url.startswith("http://"):
        root = "ws://" + base_url[len("http://") :]
    else:
        raise ConfigurationError(f"base_url must start with http:// or https://, got {base_url!r}")
    return root.rstrip("/") + path
