"""The media WebSocket ``/ws/stream/{call_id}``: authenticate the stream, then hand it to the core.

Twilio connects to the ``<Stream url>`` the voice webhook answered. Before anything else:

1. the upgrade's ``X-Twilio-Signature`` (over the ``wss://`` stream URL, no parameters) is checked --
   mode ``"check"`` (default) refuses a wrong signature and tolerates a missing one, ``"require"``
   refuses both, ``"ignore"`` skips it; a refused upgrade is closed before it is accepted;
2. the stream's ``start`` must arrive within the timeout, name the call of the path (``callSid``) and
   carry ``customParameters.token``, the per-call credential the webhook issued for that call.

Anything else is closed with 1008 (policy violation) before a provider is contacted. An authenticated
stream becomes the core's generic :class:`JsonMediaChannel` with the Twilio dialect and runs through :meth:`CallHost.run_call` until the call ends.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from patter_core.interfaces.carrier import CallHost, CallInfo
from patter_core.server.http import WebSocketConnection
from patter_core.server.media import JsonMediaChannel, accept_stream
from patter_twilio.dialect import TwilioDialect
from patter_twilio.signature import SETTINGS_HEADER, SIGNATURE_HEADER
from patter_twilio.status import answered_by_kind, verdict_event

if TYPE_CHECKING:
    from patter_twilio.carrier import Twilio

__all__ = ["STREAM_PATH", "MediaRoute", "StreamSignatureMode"]

log = logging.getLogger("patter.twilio")

STREAM_PATH = "/ws/stream/{call_id}"
StreamSignatureMode = Literal["check", "require", "ignore"]
POLICY_VIOLATION = 1008


def _verify(host: CallHost, token: str, call_id: str) -> Mapping[str, str] | None:
    """The token's claims, or ``None`` -- also when the check itself fails on hostile input."""
    try:
        return host.verify_call_token(token, call_id)
    except (TypeError, ValueError):
        return None


class MediaRoute:
    """The WebSocket handler mounted on :data:`STREAM_PATH`."""

    def __init__(self, carrier: Twilio) -> None:
        self.carrier = carrier
        self.rejected = 0
        """Streams refused (bad upgrade signature, no/invalid token, wrong call) -- for tests and metrics."""

    async def __call__(self, ws: WebSocketConnection) -> None:
        carrier = self.carrier
        host = carrier.host
        path_call = ws.path_params.get("call_id", "")
        if not self._upgrade_signature_ok(ws):
            self.rejected += 1
            log.warning("media stream for %s refused: bad or missing X-Twilio-Signature", path_call[:40])
            await ws.close(POLICY_VIOLATION, "invalid signature")
            return
        await ws.accept()
        dialect = TwilioDialect()
        start = await accept_stream(
            ws, dialect, timeout=carrier.start_timeout_s, label=f"twilio stream {path_call[:40]}"
        )
        claims = None
        reason = "no start"
        if start is not None:
            reason = "stream for another call"
            if start.call_id == path_call:
                reason = "missing or invalid call token"
                claims = _verify(host, start.parameters.get("token", ""), path_call)
        if start is None or claims is None:
            self.rejected += 1
            log.warning("media stream for %s refused: %s", path_call[:40], reason)
            await ws.close(POLICY_VIOLATION, "unauthorized")
            return
        call = CallInfo(
            call_id=path_call,
            carrier=carrier.name,
            direction=claims.get("direction", "inbound"),
            caller=claims.get("caller", ""),
            callee=claims.get("callee", ""),
            stream_id=start.stream_id,
            parameters={k: v for k, v in start.parameters.items() if k != "token"},
        )
        answered_by = claims.get("answered_by")
        if answered_by and answered_by_kind(answered_by) == "machine":  # synchronous AMD said machine
            carrier.webhooks.report_verdict(verdict_event(path_call, answered_by, {}))
        await host.run_call(JsonMediaChannel(ws, dialect, call=call, format=start.format))

    def _upgrade_signature_ok(self, ws: WebSocketConnection) -> bool:
        carrier = self.carrier
        mode = carrier.stream_signature
        if mode == "ignore" or not carrier.verify_webhooks:
            return True
        signature = ws.headers.get(SIGNATURE_HEADER)
        if not signature:
            return mode != "require"
        url = carrier.host.stream_url(ws.path) + (f"?{ws.query_string}" if ws.query_string else "")
        return carrier.validator.validate(url, signature, settings=ws.headers.get(SETTINGS_HEADER))
