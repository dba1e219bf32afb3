"""Twilio's webhooks: the voice URL (answer with a media stream), call status, machine detection.

Routes (public base ``https://{webhook_url}``):

* ``POST /webhooks/twilio/voice`` -- a call to answer, inbound (``Direction=inbound``) or one of our
  outbound calls (``outbound-api``): answers ``<Connect><Stream url="wss://{webhook_url}/ws/stream/{CallSid}">``
  with ``<Parameter>``s ``caller``, ``callee`` and ``token`` (the per-call credential; the stream URL
  carries no query string). ``GET`` works too, for numbers configured that way.
* ``POST /webhooks/twilio/status`` -- call progress (``initiated``, ``ringing``, ``in-progress``,
  ``completed``, ``busy``, ``no-answer``, ``failed``, ``canceled``), reported once each.
* ``POST /webhooks/twilio/amd`` -- ``AsyncAmdStatusCallback`` verdicts (``AnsweredBy``).

Every request's ``X-Twilio-Signature`` is checked against the public URL with its raw query string
(403 when wrong or missing -- never 5xx); malformed input gets 400. Handlers do no network I/O before
answering, so status callbacks get their 204 at once.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import attrs

from patter_core.interfaces.carrier import CallStatusEvent
from patter_core.server.http import BadRequest, HttpRequest, HttpResponse
from patter_twilio.signature import SETTINGS_HEADER, SIGNATURE_HEADER
from patter_twilio.status import ANSWERED_STATUSES, SeenKeys, answered_by_kind, status_event, verdict_event
from patter_twilio.twiml import connect_stream, hangup_twiml, reject_busy_twiml

if TYPE_CHECKING:
    from patter_twilio.carrier import Twilio

__all__ = ["AMD_PATH", "CALL_SID", "STATUS_PATH", "VOICE_PATH", "TwilioWebhooks"]

log = logging.getLogger("patter.twilio")

VOICE_PATH = "/webhooks/twilio/voice"
STATUS_PATH = "/webhooks/twilio/status"
AMD_PATH = "/webhooks/twilio/amd"
CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
_PARAM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_RESERVED = frozenset({"caller", "callee", "token"})


class TwilioWebhooks:
    def __init__(self, carrier: Twilio) -> None:
        self.carrier = carrier
        self.seen = SeenKeys()
        self.rejected = 0
        """Requests refused for their signature (for tests and metrics)."""

    # -- verification ----------------------------------------------------------------------------

    def _verified(self, request: HttpRequest) -> list[tuple[str, str]] | HttpResponse:
        """The request's fields when its signature is Twilio's; else a 403 response."""
        query = request.query_string
        url = self.carrier.host.public_url(request.path) + (f"?{query}" if query else "")
        json_variant = "bodySHA256=" in query
        if request.method == "GET":
            fields, params = request.query_items(), None
        elif json_variant:
            fields, params = [], None
        else:
            fields = params = request.form_items()  # raises BadRequest (400) when malformed
        if self.carrier.verify_webhooks and not self.carrier.validator.validate(
            url,
            request.header(SIGNATURE_HEADER),
            params=params,
            body=request.body if json_variant else None,
            settings=request.header(SETTINGS_HEADER),
        ):
            self.rejected += 1
            log.warning(
                "refused %s %s from %s: %s X-Twilio-Signature (signed URL must be %s)",
                request.method,
                request.path,
                request.remote_addr,
                "invalid" if request.header(SIGNATURE_HEADER) else "missing",
                url,
            )
            return HttpResponse.forbidden("invalid Twilio signature")
        if json_variant:
            raise BadRequest("expected a form-encoded Twilio webhook, got a JSON body")
        return fields

    @staticmethod
    def _call_sid(form: dict[str, str]) -> str:
        sid = form.get("CallSid", "")
        if not CALL_SID.match(sid):
            raise BadRequest("CallSid is missing or is not a Twilio call SID (CA + 32 hex)")
        return sid

    # -- reporting -------------------------------------------------------------------------------

    def report(self, event: CallStatusEvent) -> None:
        """Report a status update (the core holds a machine verdict until the call's session can speak)."""
        self.carrier.host.report_status(event)

    def report_verdict(self, event: CallStatusEvent) -> bool:
        """Report a machine-detection verdict once per call (from whichever source comes first)."""
        if not self.seen.first_time((event.call_id, "amd")):
            return False
        if event.answered_by == "fax":  # nobody will ever talk: end the call
            self.carrier.spawn(self.carrier.hangup_sid(event.call_id), name=f"fax-hangup-{event.call_id}")
        self.report(event)
        return True

    # -- handlers --------------------------------------------------------------------------------

    async def voice(self, request: HttpRequest) -> HttpResponse:
        fields = self._verified(request)
        if isinstance(fields, HttpResponse):
            return fields
        form = dict(fields)
        sid = self._call_sid(form)
        direction = "outbound" if form.get("Direction", "inbound").startswith("outbound") else "inbound"
        caller = form.get("From") or form.get("Caller") or ""
        callee = form.get("To") or form.get("Called") or ""
        if direction == "inbound" and not self.carrier.host.accepting_calls:
            log.warning("call %s rejected (busy): the server is shutting down", sid)
            return HttpResponse.xml(reject_busy_twiml())
        claims = {"caller": caller, "callee": callee, "direction": direction}
        answered_by = form.get("AnsweredBy", "")
        kind = answered_by_kind(answered_by)
        if kind == "machine":
            claims["answered_by"] = answered_by  # reported when the stream's session is ready
        elif kind is not None:
            self.report_verdict(verdict_event(sid, answered_by, form))
            if kind == "fax":
                return HttpResponse.xml(hangup_twiml())
        extras = [
            (name, value)
            for name, value in (request.query_items() if request.method == "POST" else [])
            if _PARAM_NAME.match(name) and name not in _RESERVED
        ]
        host = self.carrier.host
        token = host.issue_call_token(sid, **claims)
        parameters = [("caller", caller), ("callee", callee), *extras, ("token", token)]
        log.info("answering %s call %s with a media stream", direction, sid)
        return HttpResponse.xml(connect_stream(host.stream_url(f"/ws/stream/{sid}"), parameters))

    async def status(self, request: HttpRequest) -> HttpResponse:
        fields = self._verified(request)
        if isinstance(fields, HttpResponse):
            return fields
        form = dict(fields)
        sid = self._call_sid(form)
        status = form.get("CallStatus", "").strip().lower()
        if not status:
            raise BadRequest("CallStatus is missing")
        query = dict(request.query_items())
        if not self.seen.first_time((sid, "status", status)):
            log.debug("call %s: repeated %s status ignored", sid, status)
            return HttpResponse.empty()
        warm_for = query.get("warm_for")
        if warm_for:
            self.carrier.warm_leg_status(warm_for, sid, status)
            return HttpResponse.empty()
        event = status_event(form, machine_detection=query.get("amd") == "1")
        if event.answered_by is not None and event.status in ANSWERED_STATUSES:
            verdict = attrs.evolve(event, details={**event.details, "source": "status"})
            if self.report_verdict(verdict):
                return HttpResponse.empty()
            event = attrs.evolve(event, outcome=None)  # the verdict was already reported
        self.report(event)
        return HttpResponse.empty()

    async def amd(self, request: HttpRequest) -> HttpResponse:
        fields = self._verified(request)
        if isinstance(fields, HttpResponse):
            return fields
        form = dict(fields)
        sid = self._call_sid(form)
        answered_by = form.get("AnsweredBy", "")
        if not answered_by:
            raise BadRequest("AnsweredBy is missing")
        self.report_verdict(verdict_event(sid, answered_by, form))
        return HttpResponse.empty()
