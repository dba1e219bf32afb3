"""Phone numbers and public addresses as users type them: one check each, for the core and every carrier.

* :func:`require_e164` -- a number in E.164 form (``+`` country code and number, 7 to 15 digits);
  anything else is refused with the fix named, before a carrier API is called with it;
* :func:`public_host` -- the public host name the carrier reaches us at, from what users pass
  (``agent.example.com``, ``https://agent.example.com/``, ``abc.ngrok.app:8443``);
* :func:`redact_url` -- a URL fit for a log line: no ``user:password@`` (carriers accept webhook URLs
  with credentials in them).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from patter_core.errors import ConfigurationError

__all__ = ["E164", "is_e164", "public_host", "redact_url", "require_e164"]

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SCHEMES = ("https://", "http://", "wss://", "ws://")


def is_e164(value: str) -> bool:
    return bool(E164.match(value))


def require_e164(number: str, *, what: str = "phone number", where: str = "") -> str:
    """``number`` stripped, or :class:`ConfigurationError` naming the expected form (and ``where`` it
    came from, e.g. ``"--phone-number or PATTER_PHONE_NUMBER"``)."""
    stripped = number.strip()
    if not E164.match(stripped):
        source = f" ({where})" if where else ""
        raise ConfigurationError(
            f"{what} {number!r} is not in E.164 form: pass it as '+' followed by the country code and "
            f"number, e.g. +15550001111{source}"
        )
    return stripped


def public_host(value: str, *, what: str = "webhook host") -> str:
    """``agent.example.com`` (with a port if given) from ``value``, tolerating a scheme and a trailing
    slash; :class:`ConfigurationError` for a path, spaces or nothing at all."""
    host = value.strip()
    for scheme in _SCHEMES:
        if host.startswith(scheme):
            host = host[len(scheme) :]
            break
    host = host.rstrip("/")
    if not host or "/" in host or any(c.isspace() for c in host):
        raise ConfigurationError(
            f"{what} must be the public host name (e.g. agent.example.com or abc123.ngrok.app), got {value!r}"
        )
    return host


def redact_url(url: object) -> str:
    """``url`` without its ``user:password@`` part (``(none)`` for no URL)."""
    if not isinstance(url, str) or not url:
        return "(none)"
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = "***@" + (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
