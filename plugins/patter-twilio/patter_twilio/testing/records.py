"""What the fake Twilio records and how it is scripted: calls, requests, callbacks, Twilio error bodies."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import attrs
from quart import Response

from patter_twilio.testing.simulator import TwilioCallerSimulator

__all__ = [
    "TERMINAL",
    "CallScript",
    "FakeCall",
    "RecordedCallback",
    "RecordedRequest",
    "finish",
    "json_response",
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

    def field(self, name: str) -> str | None:
        return next((v for k, v in self.form if k == name), None)

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


def json_response(data: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


def finish(record: RecordedRequest, response: Response) -> Response:
    record.status = response.status_code
    return response


def request_kind(method: str, path: str) -> str:
    if path.endswith("/Recordings.json"):
        return "recording"
    if path.endswith("/Calls.json"):
        return "create"
    return "fetch" if method == "GET" else "update"
