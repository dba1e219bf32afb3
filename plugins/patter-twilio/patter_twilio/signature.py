"""``X-Twilio-Signature``: how Twilio signs its webhooks and media-stream upgrades, and how we check it.

The algorithm (PROTOCOLS.md §1.5, identical to twilio-python 9.13's ``RequestValidator``):

1. start from the **full public URL** Twilio requested -- scheme, host, port, path and the raw query
   string byte-for-byte (behind a TLS-terminating proxy the app sees ``http://internal/...``, so the
   carrier rebuilds it from the configured public host, never from the request);
2. for a form-encoded POST, append every parameter as ``name + value``, names sorted (case-sensitive,
   code-point order), a repeated name's values sorted too; empty values are kept (signed as the name);
3. ``base64(HMAC-SHA1(auth_token, that string))``.

Variants handled here:

* **JSON bodies** -- Twilio adds ``bodySHA256=<hex sha256 of the raw body>`` to the query string and
  signs the URL alone; we check the hash *and* the signature.
* **Shared keys** -- a request carrying ``X-Twilio-Webhooks-Signature-Settings: key=<id>,algorithm=...``
  was signed with the Webhooks Rule's SharedKey secret (HMAC-SHA256 usually), not the Auth Token. Keys
  are looked up by id in the ``shared_keys`` the developer configured; an unknown id fails.
* **The port quirk** -- Twilio is inconsistent about default ports, so a URL without a port also
  matches with the default one added (``:443`` for https/wss, ``:80`` for http/ws) and vice versa.
  A non-default port is always kept as is.

Comparisons are constant-time, and everything fails closed: no key, no header, an unknown algorithm or
a body hash mismatch all mean "not from Twilio".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import parse_qs, urlsplit, urlunsplit

__all__ = [
    "HMAC_SHA1",
    "HMAC_SHA256",
    "SETTINGS_HEADER",
    "SIGNATURE_HEADER",
    "SignatureValidator",
    "body_sha256",
    "compute_signature",
    "parse_signature_settings",
    "signed_string",
    "url_variants",
]

log = logging.getLogger("patter.twilio")

SIGNATURE_HEADER = "x-twilio-signature"
SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
HMAC_SHA1 = "HMAC_SHA1"
HMAC_SHA256 = "HMAC_SHA256"
_HASHES = {HMAC_SHA1: hashlib.sha1, HMAC_SHA256: hashlib.sha256}
_DEFAULT_PORTS = {"https": 443, "wss": 443, "http": 80, "ws": 80}

Params = Iterable[tuple[str, str]] | Mapping[str, str | Sequence[str]]


def _pairs(params: Params | None) -> list[tuple[str, str]]:
    if params is None:
        return []
    if isinstance(params, Mapping):
        out: list[tuple[str, str]] = []
        for name, value in params.items():
            values = [value] if isinstance(value, str) else list(value)
            out.extend((name, v) for v in values)
        return out
    return list(params)


def signed_string(url: str, params: Params | None = None) -> str:
    """The exact string Twilio HMACs: ``url`` then ``name+value`` for each sorted (name, value)."""
    grouped: dict[str, set[str]] = {}
    for name, value in _pairs(params):
        grouped.setdefault(name, set()).add(value)
    parts = [url]
    for name in sorted(grouped):
        parts.extend(name + value for value in sorted(grouped[name]))
    return "".join(parts)


def compute_signature(
    url: str, params: Params | None, key: str | bytes, *, algorithm: str = HMAC_SHA1
) -> str:
    """The ``X-Twilio-Signature`` value for ``url`` + ``params`` under ``key``."""
    digest = _HASHES.get(algorithm.upper())
    if digest is None:
        raise ValueError(f"unsupported Twilio signature algorithm {algorithm!r}")
    raw_key = key.encode("utf-8") if isinstance(key, str) else key
    mac = hmac.new(raw_key, signed_string(url, params).encode("utf-8"), digest)
    return base64.b64encode(mac.digest()).decode("ascii")


def body_sha256(body: bytes) -> str:
    """The hex SHA-256 Twilio puts in ``bodySHA256`` for JSON bodies."""
    return hashlib.sha256(body).hexdigest()


def url_variants(url: str) -> list[str]:
    """``url`` as Twilio may have signed it: with and without the scheme's default port."""
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return [url]
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    if default is None or (port is not None and port != default):
        return [url]
    bare = urlunsplit((parts.scheme, prefix + host, parts.path, parts.query, parts.fragment))
    with_port = urlunsplit(
        (parts.scheme, f"{prefix}{host}:{default}", parts.path, parts.query, parts.fragment)
    )
    return [bare, with_port]


def parse_signature_settings(header: str | None) -> tuple[str | None, str]:
    """``key=<id>,algorithm=<alg>`` -> ``(key_id, algorithm)``; no algorithm means HMAC_SHA1."""
    key_id: str | None = None
    algorithm = HMAC_SHA1
    for part in (header or "").split(","):
        name, sep, value = part.partition("=")
        if not sep:
            continue
        name, value = name.strip(), value.strip()
        if name == "key" and value:
            key_id = value
        elif name == "algorithm" and value:
            algorithm = value.upper()
    return key_id, algorithm


class SignatureValidator:
    """Checks Twilio signatures with the account's Auth Token and any configured shared keys.

    ``shared_keys`` maps a Webhooks Rule SharedKey id (as sent in the settings header) to its secret.
    """

    def __init__(self, auth_token: str | None, shared_keys: Mapping[str, str] | None = None) -> None:
        self._auth_token = auth_token or None
        self._shared = dict(shared_keys or {})

    def __repr__(self) -> str:  # never show secrets
        return f"SignatureValidator(auth_token={'set' if self._auth_token else 'missing'}, shared_keys={sorted(self._shared)})"

    def _key(self, settings: str | None) -> tuple[str | None, str]:
        if not settings or not settings.strip():
            return self._auth_token, HMAC_SHA1
        key_id, algorithm = parse_signature_settings(settings)
        if key_id is None or key_id not in self._shared:
            log.warning(
                "Twilio webhook signed with shared key %r, which is not configured: "
                "pass Twilio(shared_keys={'<key id>': '<secret>'})",
                key_id,
            )
            return None, algorithm
        return self._shared[key_id], algorithm

    def validate(
        self,
        url: str,
        signature: str | None,
        *,
        params: Params | None = None,
        body: bytes | None = None,
        settings: str | None = None,
    ) -> bool:
        """``True`` only when ``signature`` is Twilio's signature of this request.

        ``url`` is the full public URL with the raw query string. Pass the form ``params`` of a
        form-encoded POST; when the query carries ``bodySHA256`` pass the raw ``body`` instead.
        ``settings`` is the ``X-Twilio-Webhooks-Signature-Settings`` header, if any.
        """
        if not signature:
            return False
        key, algorithm = self._key(settings)
        if key is None or algorithm not in _HASHES:
            return False
        query = parse_qs(urlsplit(url).query, keep_blank_values=True)
        body_ok = True
        if "bodySHA256" in query:
            actual = body_sha256(body or b"")
            body_ok = hmac.compare_digest(actual.encode(), query["bodySHA256"][0].encode("utf-8", "replace"))
            params = None
        given = signature.strip().encode("utf-8", "replace")
        matched = False
        for candidate in url_variants(url):
            expected = compute_signature(candidate, params, key, algorithm=algorithm).encode()
            matched |= hmac.compare_digest(expected, given)
        return body_ok and matched
