"""Twilio's REST API (2010-04-01), the few resources a phone agent uses, over httpx.

Calls (create, update, record), the Account (the credential check) and IncomingPhoneNumbers (read and
update one number's voice webhook).

Requests are ``application/x-www-form-urlencoded`` with PascalCase names; list values are sent as the
same name repeated (``StatusCallbackEvent=initiated&StatusCallbackEvent=answered``). Authentication is
HTTP Basic with the Account SID and Auth Token. Error bodies ``{"code", "message", "more_info",
"status"}`` become :class:`~patter_core.errors.CarrierError` carrying Twilio's code and message. The
Auth Token never appears in a message or a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from patter_core.errors import CarrierError
from patter_core.providers import new_http_client

__all__ = ["ALREADY_ENDED_CODES", "Form", "TwilioREST", "is_already_ended"]

log = logging.getLogger("patter.twilio")

Form = Sequence[tuple[str, str]]
ALREADY_ENDED_CODES = frozenset({"20404", "21220"})
"""Twilio codes meaning "that call is gone / no longer updatable" -- success for a hang-up."""


def is_already_ended(error: CarrierError) -> bool:
    return error.status == 404 or (error.code or "") in ALREADY_ENDED_CODES


class TwilioREST:
    """A small client rooted at ``{base_url}/2010-04-01/Accounts/{account_sid}``."""

    def __init__(self, account_sid: str, auth_token: str, base_url: str, *, timeout: float = 15.0) -> None:
        self.account_sid = account_sid
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        self.base_url = base_url
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"TwilioREST(account_sid={self.account_sid!r}, base_url={self.base_url!r})"

    @property
    def account_path(self) -> str:
        return f"/2010-04-01/Accounts/{quote(self.account_sid, safe='')}"

    def _http(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = new_http_client(self.base_url, timeout=self.timeout, connect_timeout=5.0)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def post(self, path: str, form: Form | None = None) -> dict[str, Any]:
        """POST ``form`` to ``{account_path}{path}``; the JSON resource, or :class:`CarrierError`."""
        return await self._request("POST", path, form=form)

    async def get(self, path: str, params: Form | None = None) -> dict[str, Any]:
        """GET ``{account_path}{path}`` with a query string; the JSON resource, or :class:`CarrierError`."""
        return await self._request("GET", path, params=params)

    async def _request(
        self, method: str, path: str, *, form: Form | None = None, params: Form | None = None
    ) -> dict[str, Any]:
        url = self.account_path + path
        try:
            if method == "GET":
                response = await self._http().get(url, params=list(params or ()), auth=self._auth)
            else:
                response = await self._http().post(url, data=_encode(form or ()), auth=self._auth)
        except httpx.HTTPError as exc:
            raise CarrierError(f"Twilio request to {path} failed: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            raise _error(response, path)
        try:
            data = response.json()
        except ValueError:
            raise CarrierError(
                f"Twilio answered {path} with a body that is not JSON", status=response.status_code
            ) from None
        if not isinstance(data, dict):
            raise CarrierError(f"Twilio answered {path} with unexpected JSON", status=response.status_code)
        return data

    # -- resources -----------------------------------------------------------------------------

    async def create_call(self, form: Form) -> dict[str, Any]:
        return await self.post("/Calls.json", form)

    async def update_call(self, call_sid: str, form: Form) -> dict[str, Any]:
        return await self.post(f"/Calls/{quote(call_sid, safe='')}.json", form)

    async def create_recording(self, call_sid: str, form: Form) -> dict[str, Any]:
        return await self.post(f"/Calls/{quote(call_sid, safe='')}/Recordings.json", form)

    async def fetch_account(self) -> dict[str, Any]:
        """``GET /2010-04-01/Accounts/{sid}.json`` -- the cheapest read that proves the credentials."""
        return await self.get(".json")

    async def list_incoming_numbers(self, phone_number: str) -> list[dict[str, Any]]:
        """``IncomingPhoneNumbers.json?PhoneNumber=...``: Twilio matches partially, so callers filter."""
        page = await self.get("/IncomingPhoneNumbers.json", [("PhoneNumber", phone_number)])
        numbers = page.get("incoming_phone_numbers")
        if not isinstance(numbers, list):
            raise CarrierError("Twilio answered IncomingPhoneNumbers.json without incoming_phone_numbers")
        return [n for n in numbers if isinstance(n, dict)]

    async def update_incoming_number(self, number_sid: str, form: Form) -> dict[str, Any]:
        return await self.post(f"/IncomingPhoneNumbers/{quote(number_sid, safe='')}.json", form)


def _encode(form: Form) -> dict[str, list[str]]:
    """Keep order and repeats: httpx sends ``{"A": ["1", "2"]}`` as ``A=1&A=2``."""
    out: dict[str, list[str]] = {}
    for name, value in form:
        out.setdefault(name, []).append(value)
    return out


def _error(response: httpx.Response, path: str) -> CarrierError:
    code: str | None = None
    message = response.reason_phrase or "error"
    more = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        if body.get("code") is not None:
            code = str(body["code"])
        if isinstance(body.get("message"), str):
            message = body["message"]
        if isinstance(body.get("more_info"), str):
            more = f" ({body['more_info']})"
    hint = ""
    if response.status_code == 401 or code == "20003":
        hint = (
            " -- check the credentials: pass Twilio(account_sid=..., auth_token=...) or set "
            "TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN"
        )
    label = f"error {code}" if code else "error"
    return CarrierError(
        f"Twilio {label} on {path} (HTTP {response.status_code}): {message}{more}{hint}",
        status=response.status_code,
        code=code,
    )
