"""The fake Twilio's REST routes: Basic auth, Calls.json create/fetch/update, Recordings.json (and, from
:mod:`patter_twilio.testing.numbers`, the Account and IncomingPhoneNumbers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quart import Quart, Response

from patter_twilio.testing.numbers import add_number_routes
from patter_twilio.testing.records import (
    TERMINAL,
    FakeCall,
    begin,
    finish,
    json_response,
    not_found,
    twilio_error,
)
from patter_twilio.testing.simulator import new_sid

if TYPE_CHECKING:
    from patter_twilio.testing.fake_api import FakeTwilioAPI

__all__ = ["build_app"]


def build_app(api: FakeTwilioAPI) -> Quart:
    """The REST routes of :class:`FakeTwilioAPI` (PROTOCOLS §1.10.6, §8.3)."""
    app = Quart("fake-twilio")
    root = "/2010-04-01/Accounts/<account>"

    @app.post(f"{root}/Calls.json")
    async def create(account: str) -> Response:
        record, failed = await begin(api, "create", account)
        if failed is not None:
            return finish(record, failed)
        params: dict[str, list[str]] = {}
        for name, value in record.form:
            params.setdefault(name, []).append(value)
        to, from_ = record.field("To"), record.field("From")
        if not to:
            return finish(record, twilio_error(400, 21201, "No 'To' number is specified"))
        if not from_:
            return finish(record, twilio_error(400, 21213, "No 'From' number is specified"))
        if not (record.field("Url") or record.field("Twiml") or record.field("ApplicationSid")):
            return finish(record, twilio_error(400, 21205, "Url parameter is required."))
        if to in api.reject_to:
            return finish(record, twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}"))
        call = FakeCall(sid=new_sid("CA"), to=to, from_=from_, direction="outbound-api", params=params)
        api.calls[call.sid] = call
        api.spawn(api.run_outbound(call))
        return finish(record, json_response(call.resource(api.account_sid), 201))

    @app.get(f"{root}/Calls/<sid>.json")
    async def fetch(account: str, sid: str) -> Response:
        record, failed = await begin(api, "fetch", account)
        if failed is not None:
            return finish(record, failed)
        call = api.calls.get(sid)
        if call is None:
            return finish(record, not_found(record.path))
        return finish(record, json_response(call.resource(api.account_sid)))

    @app.post(f"{root}/Calls/<sid>.json")
    async def update(account: str, sid: str) -> Response:
        record, failed = await begin(api, "update", account)
        if failed is not None:
            return finish(record, failed)
        call = api.calls.get(sid)
        if call is None:
            return finish(record, not_found(record.path))
        if call.status in TERMINAL:
            status, code = api.ended_call_error
            return finish(record, twilio_error(status, code, "Call is not in-progress. Cannot redirect."))
        call.updates.append(record.form)
        new_status, twiml = record.field("Status"), record.field("Twiml")
        if new_status == "canceled" and call.status == "in-progress":
            return finish(record, twilio_error(400, 21220, "Call is in-progress. Cannot cancel."))
        if twiml is not None or record.field("Url") is not None:
            call.transferred = twiml is None or "<Dial" in twiml
            api.spawn(api.end_stream(call, then=None if call.transferred else "completed"))
        elif new_status in ("completed", "canceled"):
            api.spawn(api.end_stream(call, then=new_status))
        return finish(record, json_response(call.resource(api.account_sid)))

    @app.post(f"{root}/Calls/<sid>/Recordings.json")
    async def recording(account: str, sid: str) -> Response:
        record, failed = await begin(api, "recording", account)
        if failed is not None:
            return finish(record, failed)
        call = api.calls.get(sid)
        if call is None or call.status in TERMINAL:
            return finish(record, not_found(record.path))
        rec_sid = new_sid("RE")
        call.recordings.append(rec_sid)
        channels = 2 if record.field("RecordingChannels") == "dual" else 1
        body = {
            "sid": rec_sid,
            "call_sid": sid,
            "account_sid": api.account_sid,
            "status": "in-progress",
            "channels": channels,
            "source": "StartCallRecordingAPI",
        }
        return finish(record, json_response(body, 201))

    add_number_routes(app, api)
    return app
