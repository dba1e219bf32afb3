"""The fake Telnyx API's account resources: balance, phone numbers, Call Control Applications.

Served by :class:`~patter_telnyx.testing.FakeCallControl` (same Bearer check, same request record) for
``configure_number`` and ``check_credentials``:

* ``GET /v2/balance`` -> ``{"data": {"record_type": "balance", "balance", "currency", ...}}``;
* ``GET /v2/phone_numbers?filter[phone_number]=...`` -> ``{"data": [...], "meta": {...}}``. As Telnyx
  documents it, the filter takes digits only -- "non-numerical characters will result in no values being
  returned", so ``+1555...`` finds nothing -- needs at least three of them, and matches partially;
  ``filter[connection_id]`` filters by application;
* ``GET /v2/call_control_applications/{id}`` -> ``{"data": {...}}`` (404 ``10005`` when unknown);
* ``PATCH /v2/call_control_applications/{id}`` -> the updated application; ``application_name`` and
  ``webhook_event_url`` are required and the URL must have an http(s) scheme (422 ``10015`` otherwise;
  codes illustrative).

Seed with ``api.add_application(id, webhook_event_url=...)`` and ``api.add_number("+1...",
connection_id=id)``; inject failures with ``api.fail("balance" | "phone_numbers" | "get_application" |
"update_application", status=...)``.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import unquote

import attrs

from patter_telnyx.testing.http import JsonReply

__all__ = ["FakeAccount", "FakeApplication", "FakePhoneNumber", "account_action"]

_TIME = "2024-01-02T03:04:05.000Z"
_SIMPLE = ("application_name", "webhook_event_url", "webhook_api_version", "active")


def _id() -> str:
    return str(1_000_000_000_000_000_000 + secrets.randbelow(10**18))


def _error(status: int, code: str, title: str, detail: str = "") -> JsonReply:
    return JsonReply(status, {"errors": [{"code": code, "title": title, "detail": detail or title}]})


@attrs.define(kw_only=True)
class FakeApplication:
    """A Call Control Application; ``updates`` keeps every PATCH body it accepted."""

    id: str = attrs.field(factory=_id)
    application_name: str = "patter"
    webhook_event_url: str = "https://example.com/webhooks"
    webhook_api_version: str = "2"
    active: bool = True
    other: dict[str, Any] = attrs.field(factory=dict)
    """Further fields as the PATCH set them (``webhook_event_failover_url``, ``dtmf_type`` ...)."""
    updates: list[dict[str, Any]] = attrs.field(factory=list)

    def resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "record_type": "call_control_application",
            "active": self.active,
            "anchorsite_override": "Latency",
            "application_name": self.application_name,
            "call_cost_in_webhooks": False,
            "dtmf_type": "RFC 2833",
            "first_command_timeout": False,
            "first_command_timeout_secs": 30,
            "inbound": {
                "channel_limit": None,
                "shaken_stir_enabled": False,
                "sip_subdomain": None,
                "sip_subdomain_receive_settings": "from_anyone",
            },
            "outbound": {"channel_limit": None, "outbound_voice_profile_id": None},
            "redact_dtmf_debug_logging": False,
            "tags": [],
            "webhook_api_version": self.webhook_api_version,
            "webhook_event_failover_url": "",
            "webhook_event_url": self.webhook_event_url,
            "webhook_timeout_secs": None,
            "created_at": _TIME,
            "updated_at": _TIME,
            **self.other,
        }


@attrs.define(kw_only=True)
class FakePhoneNumber:
    phone_number: str
    connection_id: str | None = None
    id: str = attrs.field(factory=_id)
    status: str = "active"

    def resource(self, account: FakeAccount) -> dict[str, Any]:
        app = account.applications.get(self.connection_id or "")
        return {
            "id": self.id,
            "record_type": "phone_number",
            "phone_number": self.phone_number,
            "status": self.status,
            "tags": [],
            "external_pin": None,
            "connection_id": self.connection_id,
            "connection_name": app.application_name if app is not None else None,
            "customer_reference": None,
            "messaging_profile_id": None,
            "messaging_profile_name": None,
            "billing_group_id": None,
            "emergency_enabled": False,
            "emergency_address_id": None,
            "call_forwarding_enabled": True,
            "cnam_listing_enabled": False,
            "caller_id_name_enabled": False,
            "call_recording_enabled": False,
            "t38_fax_gateway_enabled": False,
            "phone_number_type": "local",
            "number_level_routing": "disabled",
            "purchased_at": _TIME,
            "created_at": _TIME,
            "updated_at": _TIME,
        }


def account_action(method: str, parts: list[str]) -> str | None:
    """The recorded action name of an account route (``parts`` = the path split on ``/``)."""
    if parts[1:] == ["balance"] and method == "GET":
        return "balance"
    if parts[1:] == ["phone_numbers"] and method == "GET":
        return "phone_numbers"
    if len(parts) == 3 and parts[1] == "call_control_applications":
        return {"GET": "get_application", "PATCH": "update_application"}.get(method)
    return None


class FakeAccount:
    """What the account holds; :meth:`handle` answers one request for :class:`FakeCallControl`."""

    def __init__(self) -> None:
        self.applications: dict[str, FakeApplication] = {}
        self.numbers: dict[str, FakePhoneNumber] = {}
        self.balance, self.currency = "300.00", "USD"

    def add_application(self, id: str | None = None, **fields: Any) -> FakeApplication:
        app = FakeApplication(id=id, **fields) if id else FakeApplication(**fields)
        self.applications[app.id] = app
        return app

    def add_number(
        self, phone_number: str, connection_id: str | None = None, **fields: Any
    ) -> FakePhoneNumber:
        number = FakePhoneNumber(phone_number=phone_number, connection_id=connection_id, **fields)
        self.numbers[number.id] = number
        return number

    def number(self, phone_number: str) -> FakePhoneNumber:
        return next(n for n in self.numbers.values() if n.phone_number == phone_number)

    def handle(self, action: str, parts: list[str], query: dict[str, str], body: Any) -> JsonReply:
        if action == "balance":
            data = {
                "record_type": "balance",
                "balance": self.balance,
                "credit_limit": "0.00",
                "available_credit": self.balance,
                "pending": "0.00",
                "currency": self.currency,
            }
            return JsonReply(200, {"data": data})
        if action == "phone_numbers":
            return self._list_numbers(query)
        app = self.applications.get(unquote(parts[2]))
        if app is None:
            return _error(404, "10005", "Resource not found", "The requested resource was not found.")
        if action == "update_application":
            return self._update(app, body)
        return JsonReply(200, {"data": app.resource()})

    def _list_numbers(self, query: dict[str, str]) -> JsonReply:
        found = list(self.numbers.values())
        pattern = query.get("filter[phone_number]")
        if pattern is not None:
            usable = pattern.isdigit() and len(pattern) >= 3
            found = [n for n in found if usable and pattern in n.phone_number.lstrip("+")]
        connection = query.get("filter[connection_id]")
        if connection is not None:
            found = [n for n in found if n.connection_id == connection]
        size = max(1, min(250, int(query.get("page[size]", "20") or 20)))
        meta = {
            "page_number": 1,
            "page_size": size,
            "total_pages": max(1, -(-len(found) // size)),
            "total_results": len(found),
        }
        return JsonReply(200, {"data": [n.resource(self) for n in found[:size]], "meta": meta})

    def _update(self, app: FakeApplication, body: Any) -> JsonReply:
        if not isinstance(body, dict):
            return _error(422, "10015", "Invalid parameter", "The request body must be a JSON object.")
        for name in ("application_name", "webhook_event_url"):
            if not body.get(name):
                return _error(422, "10015", "Invalid parameter", f"The '{name}' parameter is required.")
        if not str(body["webhook_event_url"]).startswith(("https://", "http://")):
            return _error(422, "10015", "Invalid parameter", "webhook_event_url must include a scheme.")
        for name, value in body.items():
            if name in _SIMPLE:
                setattr(app, name, value)
            else:
                app.other[name] = value
        app.updates.append(dict(body))
        return JsonReply(200, {"data": app.resource()})
