"""The Call Control v2 REST API: commands on a call and dialing (PROTOCOLS.md §2.1, §2.4), plus the
reads and the one update that number configuration and the credential check need (``get``/``patch``,
used by :mod:`patter_telnyx.numbers`).

Every command carries a fresh ``command_id`` (Telnyx ignores a repeat of the same id for the same call
within 60 s), so a request that failed in transit (connection error, 429, 5xx) is retried once with the
*same* body and id without any risk of answering or hanging up twice. ``call_control_id`` values
(``v3:...``) are URL-encoded in paths. Errors become :class:`TelnyxAPIError` (a
:class:`~patter_core.errors.CarrierError`) carrying Telnyx's error code and title; the API key never
appears in an error or a log line.

``client_state`` is Telnyx's per-command opaque string, echoed on later webhooks. Patter puts a small
base64 JSON object in it (:func:`encode_client_state`) so that any instance receiving a webhook knows
what the call is for (inbound, outbound with machine detection, a warm-transfer leg) without shared
memory.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from patter_core.errors import CarrierError
from patter_core.providers import new_http_client

__all__ = [
    "ALREADY_ENDED",
    "TelnyxAPI",
    "TelnyxAPIError",
    "decode_client_state",
    "encode_client_state",
    "new_command_id",
]

log = logging.getLogger("patter.telnyx")

ALREADY_ENDED = "90018"
"""Error code of a command on a call that has already ended."""

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_MARKER = "patter"


def new_command_id() -> str:
    return str(uuid.uuid4())


def encode_client_state(values: Mapping[str, str]) -> str:
    """Base64 of a compact JSON object tagged as Patter's."""
    data = {_MARKER: "1", **values}
    return base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode("ascii")


def decode_client_state(value: object) -> dict[str, str]:
    """Patter's values from a webhook's ``client_state``; ``{}`` for anything else (never raises)."""
    if not isinstance(value, str) or not value or len(value) > 4096:
        return {}
    try:
        data = json.loads(base64.b64decode(value, validate=True))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        return {}
    if not isinstance(data, dict) or data.get(_MARKER) != "1":
        return {}
    return {str(k): str(v) for k, v in data.items() if k != _MARKER}


class TelnyxAPIError(CarrierError):
    """A Call Control request failed: HTTP status plus Telnyx's first error ``code`` and ``title``."""

    def __init__(
        self, message: str, *, status: int | None, code: str | None, title: str = "", detail: str = ""
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.title, self.detail = title, detail

    @property
    def call_ended(self) -> bool:
        """The call has already ended (code 90018): a hang-up is then a success."""
        return self.code == ALREADY_ENDED


class TelnyxAPI:
    """A small async client for the endpoints a phone agent uses."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float = 10.0,
        retry_delay_s: float = 0.25,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url
        self._api_key = api_key
        self._timeout = timeout
        self._retry_delay_s = retry_delay_s
        self._client = client
        self._owns_client = client is None

    def __repr__(self) -> str:  # never show the key
        return f"TelnyxAPI(base_url={self.base_url!r})"

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = new_http_client(
                self.base_url,
                headers={
                    "Authorization": f"Bearer {self._api_key}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
                timeout=self._timeout,
            )
        return self._client

    async def command(
        self, call_control_id: str, action: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """``POST /calls/{id}/actions/{action}``; returns the response's ``data`` object."""
        payload = dict(body or {})
        payload.setdefault("command_id", new_command_id())
        path = f"/calls/{quote(call_control_id, safe='')}/actions/{action}"
        return await self._post(path, payload, what=action)

    async def dial(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /calls``; returns ``data`` (with ``call_control_id``)."""
        payload = dict(body)
        payload.setdefault("command_id", new_command_id())
        return await self._post("/calls", payload, what="dial")

    async def get(self, path: str, params: Mapping[str, str] | None = None, *, what: str) -> Any:
        """``GET {base_url}{path}``; the response's ``data`` (an object or a list), retried once."""
        return await self._send("GET", path, params=params, what=what)

    async def patch(self, path: str, body: Mapping[str, Any], *, what: str) -> dict[str, Any]:
        """``PATCH {base_url}{path}`` (idempotent: a retry sends the same values); ``data``."""
        data = await self._send("PATCH", path, body=dict(body), what=what)
        return data if isinstance(data, dict) else {}

    async def _post(self, path: str, body: dict[str, Any], *, what: str) -> dict[str, Any]:
        data = await self._send("POST", path, body=body, what=what)
        return data if isinstance(data, dict) else {}

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        what: str,
    ) -> Any:
        """One request, retried once on a transport error, 429 or 5xx: every request sent through here
        is safe to repeat (commands carry a ``command_id``; GET and PATCH are idempotent)."""
        content = None if body is None else json.dumps(body, separators=(",", ":"))
        for attempt in (1, 2):
            try:
                response = await self._http().request(method, path, content=content, params=params)
            except httpx.TransportError as exc:
                if attempt == 1:
                    log.warning("Telnyx %s: %s; retrying once", what, type(exc).__name__)
                    await asyncio.sleep(self._retry_delay_s)
                    continue
                raise CarrierError(f"Telnyx {what} failed: {type(exc).__name__}: {exc}") from None
            if response.status_code in _RETRY_STATUS and attempt == 1:
                log.warning("Telnyx %s: HTTP %d; retrying once", what, response.status_code)
                await asyncio.sleep(_retry_after(response, self._retry_delay_s))
                continue
            return _result(response, what)
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.aclose()
        self._client = None


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return min(2.0, max(default, float(response.headers.get("retry-after", default))))
    except ValueError:
        return default


def _result(response: httpx.Response, what: str) -> Any:
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    if response.is_success:
        return parsed.get("data") if isinstance(parsed, dict) else None
    code = title = detail = ""
    errors = parsed.get("errors") if isinstance(parsed, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        code, title, detail = (str(first.get(k) or "") for k in ("code", "title", "detail"))
    hint = ""
    if response.status_code == 401:
        hint = " (check the API key: pass Telnyx(api_key=...) or set TELNYX_API_KEY)"
    elif response.status_code == 403:
        hint = " (the API key lacks permission for this Call Control action)"
    summary = " ".join(part for part in (code, title) if part) or response.reason_phrase
    message = f"Telnyx {what} failed: HTTP {response.status_code} {summary}"
    if detail and detail != title:
        message += f": {detail[:300]}"
    raise TelnyxAPIError(
        message + hint, status=response.status_code, code=code or None, title=title, detail=detail
    )
