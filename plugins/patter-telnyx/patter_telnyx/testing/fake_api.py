"""A fake Telnyx Call Control REST API (PROTOCOLS.md §2.1, §2.4, §8.3) on a loopback port.

* ``Authorization: Bearer <api_key>`` is checked (401 ``10009`` otherwise);
* ``POST /v2/calls`` (dial) -> ``{"data": {"call_control_id", "call_leg_id", "call_session_id",
  "is_alive": false, "record_type": "call"}}``; ``POST /v2/calls/{id}/actions/{action}`` ->
  ``{"data": {"result": "ok"}}``; ``GET /v2/calls/{id}`` -> ``{"data": {..., "is_alive"}}``;
* a command on a call that ended -> 422 ``90018`` "Call has already ended";
* a repeated ``command_id`` for the same call within 60 s is accepted and ignored (no side effects);
* bodies are validated against the official SDK's parameter lists where it matters: required fields,
  enums, ``answer`` on an outgoing leg, and ``stream_auth_token`` / ``stream_bidirectional_sampling_rate``
  on ``answer`` (not ``answer`` parameters in SDK 4.189) -> 422 (validation codes are illustrative);
* every request is recorded (``requests``); :meth:`FakeCallControl.fail` injects failures;
* the account's balance, phone numbers and Call Control Applications (``api.account``, seeded with
  :meth:`FakeCallControl.add_application` / :meth:`FakeCallControl.add_number`) for number configuration
  and the credential check: see :mod:`patter_telnyx.testing.fake_account`.

Side effects (webhooks, media streams) belong to :class:`~patter_telnyx.testing.TelnyxSimulator`, which
passes ``on_dial`` / ``on_command``; they run after the response is written, as with the real API.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import attrs

from patter_telnyx.testing.fake_account import FakeAccount, FakeApplication, FakePhoneNumber, account_action
from patter_telnyx.testing.http import JsonReply, MiniHTTPServer, Request

__all__ = ["FakeCallControl", "RecordedRequest"]

OnDial = Callable[[str, dict[str, Any]], Awaitable[None]]
OnCommand = Callable[[str, str, dict[str, Any]], Awaitable[None]]

_CODECS = {"PCMU", "PCMA", "G722", "OPUS", "AMR-WB", "L16", "default"}
_ENUMS: dict[str, dict[str, set[Any]]] = {
    "streaming_start": {
        "stream_track": {"inbound_track", "outbound_track", "both_tracks"},
        "stream_codec": _CODECS,
        "stream_bidirectional_mode": {"mp3", "rtp"},
        "stream_bidirectional_codec": _CODECS - {"default"},
        "stream_bidirectional_sampling_rate": {8000, 16000, 22050, 24000, 48000},
        "stream_bidirectional_target_legs": {"both", "self", "opposite"},
    },
    "record_start": {"format": {"wav", "mp3"}, "channels": {"single", "dual"}},
    "dial": {
        "answering_machine_detection": {
            "premium",
            "premium_ios_call_screening_detection",
            "detect",
            "detect_beep",
            "detect_words",
            "greeting_end",
            "disabled",
        }
    },
}
_REQUIRED = {
    "dial": ("connection_id", "to", "from"),
    "transfer": ("to",),
    "send_dtmf": ("digits",),
    "record_start": ("format", "channels"),
    "speak": ("payload", "voice"),
    "bridge": ("call_control_id",),
    "streaming_start": ("stream_url",),
    "reject": ("cause",),
}
_NOT_ON_ANSWER = ("stream_auth_token", "stream_bidirectional_sampling_rate", "custom_parameters")
ACTIONS = frozenset(
    {
        "answer",
        "hangup",
        "transfer",
        "streaming_start",
        "streaming_stop",
        "send_dtmf",
        "speak",
        "playback_start",
        "playback_stop",
        "record_start",
        "record_stop",
        "record_pause",
        "record_resume",
        "bridge",
        "gather",
        "gather_using_speak",
        "fork_start",
        "fork_stop",
        "reject",
        "refer",
        "client_state_update",
        "transcription_start",
        "transcription_stop",
    }
)


def _error(status: int, code: str, title: str, detail: str = "") -> JsonReply:
    return JsonReply(status, {"errors": [{"code": code, "title": title, "detail": detail or title}]})


@attrs.define
class RecordedRequest:
    method: str
    path: str
    action: str | None
    """``dial``, an action name, ``get``, an account route (``balance``, ``phone_numbers``,
    ``get_application``, ``update_application``) -- or ``None`` for an unknown path."""
    call_control_id: str | None
    body: Any
    authorized: bool
    status: int = 0
    duplicate: bool = False
    query: dict[str, str] = attrs.field(factory=dict)
    """The decoded query string."""


@attrs.define
class _Call:
    direction: str
    alive: bool = True
    answered: bool = False


class FakeCallControl:
    def __init__(
        self,
        *,
        api_key: str = "test-api-key",
        on_dial: OnDial | None = None,
        on_command: OnCommand | None = None,
    ) -> None:
        self.api_key = api_key
        self.on_dial = on_dial
        self.on_command = on_command
        self.requests: list[RecordedRequest] = []
        self.calls: dict[str, _Call] = {}
        self._failures: dict[str, list[JsonReply]] = {}
        self._command_ids: dict[tuple[str, str], float] = {}
        self.account = FakeAccount()
        self._server = MiniHTTPServer(self._handle)

    @property
    def base_url(self) -> str:
        """Pass as ``Telnyx(base_url=...)``."""
        return f"http://127.0.0.1:{self._server.port}/v2"

    async def start(self) -> None:
        await self._server.start()

    async def stop(self) -> None:
        await self._server.stop()

    # -- the test's controls -------------------------------------------------------------------

    def register_call(self, call_control_id: str, direction: str = "incoming") -> None:
        self.calls[call_control_id] = _Call(direction)

    def add_application(self, id: str | None = None, **fields: Any) -> FakeApplication:
        """A Call Control Application (``application_name=``, ``webhook_event_url=``, ``active=``,
        ``webhook_api_version=``); ``id`` is the ``TELNYX_CONNECTION_ID`` to use."""
        return self.account.add_application(id, **fields)

    def add_number(
        self, phone_number: str, connection_id: str | None = None, **fields: Any
    ) -> FakePhoneNumber:
        """A phone number of the account (E.164), assigned to ``connection_id`` (or to nothing)."""
        return self.account.add_number(phone_number, connection_id, **fields)

    def end(self, call_control_id: str) -> None:
        call = self.calls.get(call_control_id)
        if call is not None:
            call.alive = False

    def fail(
        self,
        action: str,
        *,
        status: int = 500,
        code: str = "10007",
        title: str = "Unexpected error",
        times: int = 1,
    ) -> None:
        """The next ``times`` requests for ``action`` (or ``"dial"``, or an account route: ``"balance"``,
        ``"phone_numbers"``, ``"get_application"``, ``"update_application"``) fail with this error."""
        self._failures.setdefault(action, []).extend([_error(status, code, title)] * times)

    def commands(
        self, action: str | None = None, call_control_id: str | None = None
    ) -> list[RecordedRequest]:
        """Accepted, non-duplicate commands (optionally of one action / for one call)."""
        return [
            r
            for r in self.requests
            if r.status == 200
            and not r.duplicate
            and (action is None or r.action == action)
            and (call_control_id is None or r.call_control_id == call_control_id)
        ]

    # -- the API -------------------------------------------------------------------------------

    async def _handle(self, request: Request) -> JsonReply:
        record = RecordedRequest(request.method, request.path, None, None, None, False)
        self.requests.append(record)
        reply = self._route(request, record)
        record.status = reply.status
        return reply

    def _route(self, request: Request, record: RecordedRequest) -> JsonReply:
        record.authorized = request.headers.get("authorization") == f"Bearer {self.api_key}"
        target = urlsplit(request.path)
        record.query = dict(parse_qsl(target.query, keep_blank_values=True))
        parts = target.path.strip("/").split("/")
        account = account_action(request.method, parts) if parts[:1] == ["v2"] else None
        if parts[:2] != ["v2", "calls"] and account is None:
            return _error(404, "10005", "Resource not found")
        if not record.authorized:
            return _error(401, "10009", "Authentication failed", "The API key is missing or invalid.")
        if account is not None:
            record.action = account
            try:
                record.body = json.loads(request.body) if request.body else None
            except ValueError:
                return _error(400, "10015", "Bad request", "The request body is not valid JSON.")
            return self._injected(account) or self.account.handle(account, parts, record.query, record.body)
        if request.method == "GET" and len(parts) == 3:
            record.action, record.call_control_id = "get", unquote(parts[2])
            call = self.calls.get(record.call_control_id)
            if call is None:
                return _error(404, "10005", "Resource not found")
            data = {"call_control_id": record.call_control_id, "is_alive": call.alive, "record_type": "call"}
            return JsonReply(200, {"data": data})
        if request.method != "POST":
            return _error(404, "10005", "Resource not found")
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return _error(400, "10015", "Bad request", "The request body is not valid JSON.")
        record.body = body
        if not isinstance(body, dict):
            return _error(422, "10015", "Invalid parameter", "The request body must be a JSON object.")
        if len(parts) == 2:
            record.action = "dial"
            return self._dial(body)
        if len(parts) == 5 and parts[3] == "actions":
            record.action, record.call_control_id = parts[4], unquote(parts[2])
            return self._command(record, record.call_control_id, parts[4], body)
        return _error(404, "10005", "Resource not found")

    def _injected(self, action: str) -> JsonReply | None:
        pending = self._failures.get(action)
        return pending.pop(0) if pending else None

    def _validate(self, action: str, body: dict[str, Any]) -> JsonReply | None:
        for name in _REQUIRED.get(action, ()):
            if body.get(name) in (None, ""):
                return _error(422, "10015", "Invalid parameter", f"The '{name}' parameter is required.")
        for name, allowed in _ENUMS.get(action, {}).items():
            if name in body and body[name] not in allowed:
                return _error(
                    422, "10015", "Invalid parameter", f"'{name}' must be one of {sorted(map(str, allowed))}."
                )
        return None

    def _dial(self, body: dict[str, Any]) -> JsonReply:
        failure = self._injected("dial") or self._validate("dial", body)
        if failure is not None:
            return failure
        call_id = "v3:" + uuid.uuid4().hex + "-" + uuid.uuid4().hex[:12]
        self.calls[call_id] = _Call("outgoing")
        data = {
            "call_control_id": call_id,
            "call_leg_id": str(uuid.uuid4()),
            "call_session_id": str(uuid.uuid4()),
            "is_alive": False,
            "record_type": "call",
        }
        on_dial = self.on_dial
        return JsonReply(200, {"data": data}, after=(lambda: on_dial(call_id, body)) if on_dial else None)

    def _command(self, record: RecordedRequest, call_id: str, action: str, body: dict[str, Any]) -> JsonReply:
        if action not in ACTIONS:
            return _error(404, "10005", "Resource not found", f"Unknown action {action!r}.")
        call = self.calls.get(call_id)
        if call is None:
            return _error(404, "10005", "Resource not found", "Unknown call_control_id.")
        failure = self._injected(action)
        if failure is not None:
            return failure
        if not call.alive:
            return _error(
                422,
                "90018",
                "Call has already ended",
                "This call is no longer active and can't receive commands.",
            )
        invalid = self._validate(action, body)
        if invalid is not None:
            return invalid
        if action == "answer":
            if call.direction != "incoming":
                return _error(422, "90015", "Invalid call direction", "Only incoming calls can be answered.")
            extra = [name for name in _NOT_ON_ANSWER if name in body]
            if extra:
                return _error(
                    422, "10015", "Invalid parameter", f"Unknown answer parameter(s): {', '.join(extra)}."
                )
            call.answered = True
        command_id = body.get("command_id")
        if isinstance(command_id, str):
            now = time.monotonic()
            seen = self._command_ids.get((call_id, command_id))
            if seen is not None and now - seen < 60:
                record.duplicate = True
                return JsonReply(200, {"data": {"result": "ok"}})
            self._command_ids[(call_id, command_id)] = now
        if action in ("hangup", "reject"):
            call.alive = False
        on_command = self.on_command
        after = (lambda: on_command(call_id, action, body)) if on_command else None
        return JsonReply(200, {"data": {"result": "ok"}}, after=after)
