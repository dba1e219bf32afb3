"""A complete fake carrier: webhook, media WebSocket, call control -- and a caller to drive it.

It exercises the core's server path exactly as a real carrier plugin does (a signed webhook, a
per-call token, the generic :class:`~patter_core.server.media.JsonMediaChannel` with a small dialect),
so the server can be tested with no vendor installed. Its wire format is deliberately simple JSON:

* ``POST /webhooks/fake/voice`` with JSON ``{"call_id", "from", "to"}`` and header
  ``X-Fake-Signature: hex(hmac_sha256(secret, body))`` -> ``{"stream_url", "token"}`` (403 if unsigned);
* WebSocket ``/ws/fake/stream/{call_id}``: in ``start{call_id, token}``, ``media{payload}``,
  ``mark{name}``, ``dtmf{digit}``, ``stop``; out ``media{payload}``, ``mark{name}``, ``clear``.

For session tests without a server, :meth:`FakeCarrier.attach` links a
:class:`~patter_core.testing.channel.FakeChannel`: hang-ups and transfers then end that channel's stream.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from patter_core.audio.format import MULAW_8K
from patter_core.errors import CarrierError
from patter_core.interfaces.carrier import (
    AudioReceived,
    CallHost,
    CallInfo,
    CallOutcome,
    CallStatusEvent,
    Carrier,
    CarrierCapabilities,
    DtmfReceived,
    MalformedFrame,
    MarkPlayed,
    MediaDialect,
    MediaEvent,
    OutboundCallRequest,
    StreamStart,
    StreamStopped,
    WarmTransfer,
)
from patter_core.server.http import HttpRequest, HttpResponse, WebSocketConnection
from patter_core.server.media import JsonMediaChannel, accept_stream, json_frame
from patter_core.testing.caller import CallerDialect, Outbound
from patter_core.testing.channel import FakeChannel

__all__ = ["FakeCallerDialect", "FakeCarrier", "FakeDialect", "sign_fake_webhook"]


_DTMF_DIGITS = "0123456789*#ABCD"


def sign_fake_webhook(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class FakeDialect(MediaDialect):
    def parse(self, message: str | bytes) -> MediaEvent | StreamStart | None:
        data = json_frame(message)
        event = data.get("event")
        if event == "media":
            payload = data.get("payload")
            if not isinstance(payload, str):
                raise MalformedFrame("media without a string payload")
            try:
                return AudioReceived(base64.b64decode(payload, validate=True))
            except (binascii.Error, ValueError):
                raise MalformedFrame("media payload is not base64") from None
        if event == "mark" and isinstance(data.get("name"), str):
            return MarkPlayed(data["name"])
        if event == "dtmf" and isinstance(data.get("digit"), str):
            if len(data["digit"]) != 1 or data["digit"] not in _DTMF_DIGITS:
                raise MalformedFrame(f"not a DTMF digit: {data['digit'][:10]!r}")
            return DtmfReceived(data["digit"])
        if event == "stop":
            return StreamStopped("stop")
        if event == "start" and isinstance(data.get("call_id"), str):
            return StreamStart(
                call_id=data["call_id"], stream_id=None, parameters={"token": str(data.get("token", ""))}
            )
        raise MalformedFrame(f"unknown or incomplete event {str(event)[:40]!r}")

    def audio_message(self, payload: bytes) -> str:
        return '{"event":"media","payload":"' + base64.b64encode(payload).decode() + '"}'

    def mark_message(self, name: str) -> str:
        return json.dumps({"event": "mark", "name": name})

    def clear_message(self) -> str:
        return '{"event":"clear"}'


class FakeCallerDialect(CallerDialect):
    """The fake carrier's frames from the caller's side (for :class:`SimulatedCaller`)."""

    def __init__(self, call_id: str, token: str) -> None:
        self.call_id, self.token = call_id, token

    def start(self) -> str:
        return json.dumps({"event": "start", "call_id": self.call_id, "token": self.token})

    def media(self, payload: bytes, index: int, timestamp_ms: int) -> str:
        return json.dumps({"event": "media", "payload": base64.b64encode(payload).decode()})

    def dtmf(self, digit: str) -> str:
        return json.dumps({"event": "dtmf", "digit": digit})

    def mark(self, name: str) -> str:
        return json.dumps({"event": "mark", "name": name})

    def stop(self) -> str:
        return '{"event":"stop"}'

    def parse_outbound(self, message: str | bytes) -> Outbound | None:
        data = json.loads(message)
        event = data.get("event")
        if event == "media":
            return ("media", base64.b64decode(data["payload"], validate=True))
        if event == "mark":
            return ("mark", data["name"])
        if event == "clear":
            return ("clear", None)
        raise ValueError(f"unexpected frame from the server: {str(message)[:80]}")


class FakeCarrier(Carrier):
    name = "fake"
    capabilities = CarrierCapabilities(
        dtmf_out=True, warm_transfer=True, recording=True, machine_detection=True
    )
    wire_format = MULAW_8K

    def __init__(self, *, secret: str = "fake-carrier-secret", fail_transfer: bool = False) -> None:
        self.secret = secret
        self.fail_transfer = fail_transfer
        self.hangups: list[tuple[str, str | None]] = []
        self.transfers: list[tuple[str, str, WarmTransfer | None]] = []
        self.dtmf: list[tuple[str, str]] = []
        self.placed: list[OutboundCallRequest] = []
        self.host: CallHost | None = None
        self._channels: dict[str, FakeChannel] = {}
        self.rejected_streams = 0

    # -- in-process use ------------------------------------------------------------------------

    def attach(self, channel: FakeChannel) -> FakeChannel:
        self._channels[channel.call.call_id] = channel
        return channel

    # -- server use ----------------------------------------------------------------------------

    def mount(self, host: CallHost) -> None:
        self.host = host
        host.add_route("/webhooks/fake/voice", self._voice)
        host.add_websocket("/ws/fake/stream/{call_id}", self._media)

    async def _voice(self, request: HttpRequest) -> HttpResponse:
        signature = request.header("x-fake-signature") or ""
        if not signature.isascii() or not hmac.compare_digest(
            signature, sign_fake_webhook(self.secret, request.body)
        ):  # (compare_digest raises TypeError on non-ASCII text: a 500 instead of a 403)
            return HttpResponse.forbidden("bad signature")
        data = request.json()
        if not isinstance(data, dict) or not isinstance(data.get("call_id"), str):
            return HttpResponse.text("call_id is required", status=400)
        assert self.host is not None
        call_id = data["call_id"]
        token = self.host.issue_call_token(
            call_id, caller=str(data.get("from", "")), callee=str(data.get("to", ""))
        )
        return HttpResponse.json(
            {"stream_url": self.host.stream_url(f"/ws/fake/stream/{call_id}"), "token": token}
        )

    async def _media(self, ws: WebSocketConnection) -> None:
        assert self.host is not None
        await ws.accept()
        dialect = FakeDialect()
        start = await accept_stream(ws, dialect, timeout=5)
        path_call = ws.path_params.get("call_id", "")
        claims = None
        if start is not None and start.call_id == path_call:
            claims = self.host.verify_call_token(start.parameters.get("token", ""), path_call)
        if claims is None:
            self.rejected_streams += 1
            await ws.close(1008, "unauthorized")
            return
        call = CallInfo(
            call_id=path_call,
            carrier=self.name,
            caller=claims.get("caller", ""),
            callee=claims.get("callee", ""),
        )
        await self.host.run_call(JsonMediaChannel(ws, dialect, call=call, format=self.wire_format))

    # -- call control --------------------------------------------------------------------------

    async def place_call(self, request: OutboundCallRequest, host: CallHost) -> str:
        self.placed.append(request)
        call_id = f"CAout{len(self.placed)}"
        host.report_status(CallStatusEvent(call_id=call_id, status="queued"))
        return call_id

    def answer(self, call_id: str, *, machine: bool = False) -> None:
        """Simulate the callee answering an outbound call (status updates to the host)."""
        assert self.host is not None
        outcome = CallOutcome.VOICEMAIL if machine else CallOutcome.ANSWERED
        self.host.report_status(
            CallStatusEvent(
                call_id=call_id,
                status="in-progress",
                outcome=outcome,
                answered_by="machine" if machine else "human",
            )
        )

    async def hangup(self, call: CallInfo, *, message: str | None = None) -> None:
        self.hangups.append((call.call_id, message))
        channel = self._channels.get(call.call_id)
        if channel is not None:
            channel.hang_up()

    async def transfer(self, call: CallInfo, to: str, *, warm: WarmTransfer | None = None) -> None:
        if self.fail_transfer:
            raise CarrierError("transfer failed (fake)", status=400)
        self.transfers.append((call.call_id, to, warm))
        channel = self._channels.get(call.call_id)
        if channel is not None:
            channel.hang_up()

    async def send_dtmf(self, call: CallInfo, digits: str) -> bool:
        self.dtmf.append((call.call_id, digits))
        return True

    def info(self) -> dict[str, Any]:
        return {"hangups": self.hangups, "transfers": self.transfers}
