"""The fake Twilio's Account and IncomingPhoneNumbers resources (for ``configure_number`` and ``doctor``).

* ``GET /2010-04-01/Accounts/{sid}.json`` -> the Account (``sid``, ``friendly_name``, ``status``,
  ``type``, ``owner_account_sid``, ``auth_token`` -- Twilio really returns the token here, which is why
  the carrier must read only the fields it needs);
* ``GET .../IncomingPhoneNumbers.json?PhoneNumber=...`` -> a page (``incoming_phone_numbers``, ``page``,
  ``page_size``, ``next_page_uri``...). As on Twilio the filter is a partial match and ``*`` stands for
  any digit; a raw ``+`` in the query string decodes to a space and matches nothing (clients must send
  ``%2B``);
* ``GET .../IncomingPhoneNumbers/{PN sid}.json`` -> one number; ``POST`` updates it (``VoiceUrl``,
  ``VoiceMethod``, ``StatusCallback``, ``StatusCallbackMethod``, ``VoiceFallbackUrl``,
  ``VoiceApplicationSid``, ``TrunkSid``, ``FriendlyName``; an empty value clears a field; a URL that is
  not http(s) or a method other than GET/POST -> 400 -- validation codes are illustrative); unknown sid
  -> 404 ``20404``.

Seed numbers with :meth:`FakeTwilioAPI.add_number`; the account's fields are attributes of the fake
(``account_name``, ``account_status``, ``account_type``). Failure injection kinds: ``account``,
``numbers``, ``number``, ``number-update``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import attrs
from quart import Quart, Response

from patter_twilio.testing.records import (
    RecordedRequest,
    begin,
    finish,
    json_response,
    not_found,
    twilio_error,
)
from patter_twilio.testing.simulator import new_sid

if TYPE_CHECKING:
    from patter_twilio.testing.fake_api import FakeTwilioAPI

__all__ = ["FakeNumber", "add_number_routes", "number_matches"]

_DATE = "Mon, 16 Aug 2010 23:00:23 +0000"
_FIELDS = {
    "VoiceUrl": "voice_url",
    "VoiceMethod": "voice_method",
    "VoiceFallbackUrl": "voice_fallback_url",
    "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method",
    "VoiceApplicationSid": "voice_application_sid",
    "TrunkSid": "trunk_sid",
    "FriendlyName": "friendly_name",
}
_URLS = ("VoiceUrl", "VoiceFallbackUrl", "StatusCallback")
_METHODS = ("VoiceMethod", "StatusCallbackMethod")
_CLEARED = {"voice_method": "POST", "status_callback_method": "POST", "friendly_name": ""}
"""What an empty value sets (other fields become ``None``)."""


@attrs.define(kw_only=True)
class FakeNumber:
    """One IncomingPhoneNumber of the fake account; ``updates`` keeps every form that changed it."""

    phone_number: str
    sid: str = attrs.field(factory=lambda: new_sid("PN"))
    friendly_name: str = ""
    voice_url: str | None = None
    voice_method: str = "POST"
    voice_fallback_url: str | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    voice_application_sid: str | None = None
    trunk_sid: str | None = None
    updates: list[list[tuple[str, str]]] = attrs.field(factory=list)

    def resource(self, account_sid: str) -> dict[str, Any]:
        uri = f"/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers/{self.sid}.json"
        return {
            "account_sid": account_sid,
            "address_requirements": "none",
            "api_version": "2010-04-01",
            "beta": False,
            "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
            "date_created": _DATE,
            "date_updated": _DATE,
            "emergency_status": "Inactive",
            "friendly_name": self.friendly_name or self.phone_number,
            "origin": "twilio",
            "phone_number": self.phone_number,
            "sid": self.sid,
            "sms_application_sid": "",
            "sms_method": "POST",
            "sms_url": "",
            "status": "in-use",
            "status_callback": self.status_callback or "",
            "status_callback_method": self.status_callback_method,
            "trunk_sid": self.trunk_sid,
            "uri": uri,
            "voice_application_sid": self.voice_application_sid or "",
            "voice_caller_id_lookup": False,
            "voice_fallback_method": "POST",
            "voice_fallback_url": self.voice_fallback_url or "",
            "voice_method": self.voice_method,
            "voice_receive_mode": "voice",
            "voice_url": self.voice_url or "",
        }


def number_matches(pattern: str, phone_number: str) -> bool:
    """Twilio's ``PhoneNumber`` filter: a partial match where ``*`` is any digit."""
    regex = "".join(r"\d" if c == "*" else re.escape(c) for c in pattern)
    return re.search(regex, phone_number) is not None


def _account(api: FakeTwilioAPI) -> dict[str, Any]:
    sid = api.account_sid
    root = f"/2010-04-01/Accounts/{sid}"
    return {
        "auth_token": api.auth_token,
        "date_created": _DATE,
        "date_updated": _DATE,
        "friendly_name": api.account_name,
        "owner_account_sid": sid,
        "sid": sid,
        "status": api.account_status,
        "subresource_uris": {
            "calls": f"{root}/Calls.json",
            "incoming_phone_numbers": f"{root}/IncomingPhoneNumbers.json",
        },
        "type": api.account_type,
        "uri": f"{root}.json",
    }


def _page(api: FakeTwilioAPI, record: RecordedRequest, path: str) -> dict[str, Any]:
    pattern = record.param("PhoneNumber")
    numbers = [
        n.resource(api.account_sid)
        for n in api.numbers.values()
        if pattern is None or number_matches(pattern, n.phone_number)
    ]
    size = int(record.param("PageSize") or 50)
    query = (f"PhoneNumber={quote(pattern, safe='')}&" if pattern is not None else "") + f"PageSize={size}"
    first = f"{path}?{query}&Page=0"
    return {
        "end": max(0, min(len(numbers), size) - 1),
        "first_page_uri": first,
        "incoming_phone_numbers": numbers[:size],
        "next_page_uri": None,
        "page": 0,
        "page_size": size,
        "previous_page_uri": None,
        "start": 0,
        "uri": first,
    }


def _invalid(form: list[tuple[str, str]]) -> Response | None:
    for name, value in form:
        if name in _URLS and value and urlsplit(value).scheme not in ("http", "https"):
            return twilio_error(400, 21502, f"{name} is not valid: {value}")
        if name in _METHODS and value.upper() not in ("GET", "POST"):
            return twilio_error(400, 21502, f"{name} must be GET or POST")
    return None


def add_number_routes(app: Quart, api: FakeTwilioAPI) -> None:
    """Mount the Account and IncomingPhoneNumbers routes on the fake's Quart app."""
    root = "/2010-04-01/Accounts/<account>"

    @app.get(f"{root}.json")
    async def account(account: str) -> Response:
        record, failed = await begin(api, "account", account)
        return finish(record, failed or json_response(_account(api)))

    @app.get(f"{root}/IncomingPhoneNumbers.json")
    async def list_numbers(account: str) -> Response:
        record, failed = await begin(api, "numbers", account)
        return finish(record, failed or json_response(_page(api, record, record.path)))

    @app.get(f"{root}/IncomingPhoneNumbers/<sid>.json")
    async def fetch_number(account: str, sid: str) -> Response:
        record, failed = await begin(api, "number", account)
        number = api.numbers.get(sid)
        if failed is None and number is not None:
            return finish(record, json_response(number.resource(api.account_sid)))
        return finish(record, failed or not_found(record.path))

    @app.post(f"{root}/IncomingPhoneNumbers/<sid>.json")
    async def update_number(account: str, sid: str) -> Response:
        record, failed = await begin(api, "number-update", account)
        if failed is not None:
            return finish(record, failed)
        number = api.numbers.get(sid)
        if number is None:
            return finish(record, not_found(record.path))
        invalid = _invalid(record.form)
        if invalid is not None:
            return finish(record, invalid)
        for name, value in record.form:
            attribute = _FIELDS.get(name)
            if attribute is None:
                continue
            setattr(
                number, attribute, (value.upper() if name in _METHODS else value) or _CLEARED.get(attribute)
            )
        number.updates.append(list(record.form))
        return finish(record, json_response(number.resource(api.account_sid)))
