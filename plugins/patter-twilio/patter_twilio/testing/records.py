"""What the fake Twilio records and how it is scripted: calls, requests, callbacks, Twilio error bodies."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import attrs
from quart import Response, request

from patter_twilio.testing.simulator import TwilioCallerSimulator

if TYPE_CHECKING:
    from patter_twilio.testing.fake_api import FakeTwilioAPI

__all__ = [
    "TERMINAL",
    "CallScript",
    "FakeCall",
    "RecordedCallback",
    "RecordedRequest",
    "begin",
    "finish",
    "json_response",
    "not_found",
    "request_kind",
    "twilio_error",
]

TERMINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


@attrs.define(kw_only=True)
class CallScript:
    """What happens to an outbound call after it is created."""

    result: str = "answered"
    """``answered``, ``busy``, ``no-answer``, ``failed`` or ``canceled``."""
    answered_by: str = "human"
    """Machine-detection verdict when ``MachineDetection`` was requested."""
    ring_s: float = 0.05
    amd_delay_s: float = 0.3
    """Async AMD: seconds after the answer before the verdict is posted."""
    connect_media: bool = True
    realtime: bool = True


@attrs.define
class RecordedRequest:
    method: str
    path: str
    form: list[tuple[str, str]]
    auth_ok: bool
    status: int = 0
    query: list[tuple[str, str]] = attrs.field(factory=list)
    """The decoded query string (``+`` reads as a space, as on Twilio: encode it as ``%2B``)."""

    def field(self, name: str) -> str | None:
        return next((v for k, v in self.form if k == name), None)

    def param(self, name: str) -> str | None:
        """A query-string parameter."""
        return next((v for k, v in self.query if k == name), None)

    def fields(self, name: str) -> list[str]:
        return [v for k, v in self.form if k == name]


@attrs.define
class RecordedCallback:
    url: str
    form: dict[str, str]
    status: int | None


@attrs.define(eq=False)
class FakeCall:
    sid: str
    to: str
    from_: str
    direction: str
    params: dict[str, list[str]] = attrs.field(factory=dict)
    status: str = "queued"
    statuses: list[str] = attrs.field(factory=list)
    updates: list[list[tuple[str, str]]] = attrs.field(factory=list)
    recordings: list[str] = attrs.field(factory=list)
    simulator: TwilioCallerSimulator | None = None
    voice_responses: list[int] = attrs.field(factory=list)
    transferred: bool = False
    ending: bool = False
    sequence: int = 0
    answered_at: float | None = None
    connected: asyncio.Event = attrs.field(factory=asyncio.Event)
    ended: asyncio.Event = attrs.field(factory=asyncio.Event)

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None

    def resource(self, account_sid: str) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_sid": account_sid,
            "to": self.to,
            "from": self.from_,
            "status": self.status,
            "direction": self.direction,
            "answered_by": None,
            "api_version": "2010-04-01",
            "price": None,
            "uri": f"/2010-04-01/Accounts/{account_sid}/Calls/{self.sid}.json",
        }


def twilio_error(status: int, code: int, message: str) -> Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Response(json.dumps(body), status=status, content_type="application/json")


def not_found(path: str) -> Response:
    """Twilio's 404 for a resource it does not have (error 20404)."""
    return twilio_error(404, 20404, f"The requested resource {path} was not found")


def json_response(data: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


def finish(record: RecordedRequest, response: Response) -> Response:
    record.status = response.status_code
    return response


def request_kind(method: str, path: str) -> str:
    if path.endswith("/IncomingPhoneNumbers.json"):
        return "numbers"
    if "/IncomingPhoneNumbers/" in path:
        return "number" if method == "GET" else "number-update"
    if path.count("/") == 3 and path.startswith("/2010-04-01/Accounts/"):
        return "account"
    if path.endswith("/Recordings.json"):
        return "recording"
    if path.endswith("/Calls.json"):
        return "create"
    return "fetch" if method == "GET" else "update"


def _auth_ok(api: FakeTwilioAPI, account: str) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    return user == api.account_sid == account and password == api.auth_token


async def begin(api: FakeTwilioAPI, kind: str, account: str) -> tuple[RecordedRequest, Response | None]:
    """Record the request, then answer 401 ``20003`` for bad Basic auth or an injected failure of ``kind``
    (``None`` lets the route handle it)."""
    data = await request.get_data(cache=True)
    body = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    record = RecordedRequest(
        request.method,
        request.path,
        parse_qsl(body, keep_blank_values=True),
        _auth_ok(api, account),
        query=parse_qsl(request.query_string.decode("utf-8", "replace"), keep_blank_values=True),
    )
    api.requests.append(record)
    api._changed.set()
    if not record.auth_ok:
        return record, twilio_error(401, 20003, "Authenticate")
    failures = api._failures.get(kind)
    if failures:
        status, code, message = failures.pop(0)
        return record, twilio_error(status, code, message)
    return record, None
