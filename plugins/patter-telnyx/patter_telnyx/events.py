"""What each verified Call Control webhook does (PROTOCOLS.md §2.2, §2.5).

=====================================  =======================================================
event                                  action
=====================================  =======================================================
``call.initiated`` (incoming)          ``actions/answer`` (once per call)
``call.initiated`` (outgoing)          nothing (status reported)
``call.answered``                      ``actions/streaming_start`` with the per-call token (once);
                                       outbound without machine detection: outcome ANSWERED
``streaming.failed``                   ``streaming_start`` once more; then apologise and hang up
``call.machine.*detection.ended``      outcome ANSWERED / VOICEMAIL / FAILED (see outcomes.py);
                                       with a beep/greeting mode, VOICEMAIL waits for the greeting
``call.machine.*greeting.ended``       outcome VOICEMAIL (the message is left after the beep)
``call.speak.ended``                   releases a pending "speak, then hang up"
``call.hangup``                        final status with the outcome of the hang-up cause
``call.dtmf.received``                 ignored: DTMF is taken from the media stream (no doubles)
``call.recording.saved``               status with the recording URLs
anything else                          ignored (the webhook still gets 200)
=====================================  =======================================================

Events run one at a time per call under its lock, duplicates (same event ``id``) are dropped, and the
call's :class:`~patter_telnyx.calls.Phase` only moves forward, so each command is sent at most once
however Telnyx orders or repeats its deliveries. A VOICEMAIL verdict that arrives before the media
stream is up is held until it is (the voicemail is spoken in the agent's voice on that stream).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from patter_core.errors import CarrierError
from patter_core.interfaces.carrier import CallInfo, CallOutcome, CallStatusEvent
from patter_telnyx.calls import CallState, Phase
from patter_telnyx.outcomes import detection_verdict, hangup_outcome
from patter_telnyx.paths import stream_path
from patter_telnyx.rest import TelnyxAPIError, decode_client_state, encode_client_state

if TYPE_CHECKING:
    from patter_telnyx.carrier import Telnyx

__all__ = ["GREETING_MODES", "EventHandler"]

log = logging.getLogger("patter.telnyx")

GREETING_MODES = frozenset({"detect_beep", "greeting_end", "premium"})
"""Detection modes after which Telnyx reports the end of a machine's greeting."""

APOLOGY = "Sorry, we're having technical difficulties. Please call back in a few minutes. Goodbye."

Handler = Callable[[CallState, Mapping[str, Any], str], Awaitable[None]]


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _duration(payload: Mapping[str, Any]) -> float | None:
    try:
        start = datetime.fromisoformat(str(payload["start_time"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(payload["end_time"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    seconds = (end - start).total_seconds()
    return seconds if seconds >= 0 else None


class EventHandler:
    """Applies webhook events to the carrier's per-call state (see the module docstring)."""

    def __init__(self, carrier: Telnyx) -> None:
        self._c = carrier
        self._handlers: dict[str, Handler] = {
            "call.initiated": self._initiated,
            "call.answered": self._answered,
            "streaming.started": self._ignore,
            "streaming.stopped": self._ignore,
            "streaming.failed": self._streaming_failed,
            "call.hangup": self._hangup,
            "call.dtmf.received": self._dtmf,
            "call.machine.detection.ended": self._detection,
            "call.machine.premium.detection.ended": self._detection,
            "call.machine.greeting.ended": self._greeting,
            "call.machine.premium.greeting.ended": self._greeting,
            "call.speak.ended": self._speak_ended,
            "call.recording.saved": self._recording_saved,
        }

    async def handle(self, event_type: str, payload: Mapping[str, Any], event_id: str | None) -> None:
        handler = self._handlers.get(event_type)
        if handler is None:
            log.debug("Telnyx event %s ignored", event_type)
            return
        call_id = payload.get("call_control_id")
        if not isinstance(call_id, str) or not call_id:
            log.warning("Telnyx %s without a call_control_id ignored", event_type)
            return
        state_values = decode_client_state(payload.get("client_state"))
        if state_values.get("p") == "warm":
            self._c.warm.on_event(state_values.get("w", ""), event_type, payload, call_id)
            return
        state = self._c.calls.get_or_create(call_id)
        async with state.lock:
            if not state.first_time(event_id):
                log.debug("duplicate Telnyx event %s (%s) for call %s dropped", event_id, event_type, call_id)
                return
            self._learn(state, payload, state_values)
            await handler(state, payload, event_type)

    @staticmethod
    def _learn(state: CallState, payload: Mapping[str, Any], values: Mapping[str, str]) -> None:
        direction = {"incoming": "inbound", "outgoing": "outbound"}.get(_str(payload.get("direction")))
        direction = direction or {"in": "inbound", "out": "outbound"}.get(values.get("d", ""))
        if state.direction is None and direction is not None:
            state.direction = direction
        if state.amd is None and values.get("amd"):
            state.amd = values["amd"]
        state.caller = state.caller or _str(payload.get("from"))
        state.callee = state.callee or _str(payload.get("to"))

    # -- status reporting ----------------------------------------------------------------------

    def report(self, state: CallState, event: CallStatusEvent) -> None:
        """Report a status update (the core holds a machine verdict until the call's session can speak)."""
        host = self._c.host
        if host is not None:
            host.report_status(event)

    def stream_live(self, call_id: str) -> None:
        """The call's media stream is authenticated and its session is starting."""
        state = self._c.calls.get(call_id)
        if state is not None:
            state.stream_live = True

    # -- call setup ----------------------------------------------------------------------------

    async def _initiated(self, state: CallState, payload: Mapping[str, Any], event_type: str) -> None:
        cid = state.call_control_id
        if state.direction == "outbound":
            self.report(state, CallStatusEvent(cid, status=event_type))
            return
        if state.direction != "inbound" or not state.advance(Phase.ANSWERING):
            return  # unknown direction, already answering, or the call already ended
        if not self._c.accepting_calls:
            log.warning("call %s rejected: the server is shutting down", cid)
            await self._command(state, "reject", {"cause": "USER_BUSY"})
            return
        answered = await self._command(state, "answer", {"client_state": encode_client_state({"d": "in"})})
        if not answered and not state.ended:
            state.phase = Phase.NEW  # a redelivered call.initiated may try again

    async def _answered(self, state: CallState, payload: Mapping[str, Any], event_type: str) -> None:
        if state.ended:
            return
        state.answered = True
        state.advance(Phase.ANSWERED)
        if state.direction == "outbound":
            # with machine detection the verdict decides; and an outcome is decided only once
            outcome = CallOutcome.ANSWERED if not state.amd and state.outcome is None else None
            if outcome is not None:
                state.outcome = outcome
            self.report(state, CallStatusEvent(state.call_control_id, status=event_type, outcome=outcome))
        await self._start_stream(state)

    async def _start_stream(self, state: CallState) -> None:
        if state.ended or state.released or state.phase >= Phase.STREAMING:
            return
        host = self._c.host
        if host is None:
            log.error("call %s: the carrier is not mounted on a server; cannot stream", state.call_control_id)
            return
        state.phase = Phase.STREAMING
        state.stream_attempts += 1
        cid = state.call_control_id
        token = host.issue_call_token(
            cid, caller=state.caller, callee=state.callee, direction=state.direction or "inbound"
        )
        values = {"d": "out" if state.direction == "outbound" else "in"}
        if state.amd:
            values["amd"] = state.amd
        codec = self._c.codec
        body = {
            "stream_url": host.stream_url(stream_path(cid)),
            "stream_track": "inbound_track",
            "stream_codec": codec.name,
            "stream_bidirectional_mode": "rtp",
            "stream_bidirectional_codec": codec.name,
            "stream_bidirectional_sampling_rate": codec.sampling_rate,
            "stream_bidirectional_target_legs": "self",
            "stream_auth_token": token,
            "custom_parameters": [
                *({"name": k, "value": v} for k, v in state.parameters.items()),
                {"name": "patter_token", "value": token},
            ],
            "client_state": encode_client_state(values),
        }
        if not await self._command(state, "streaming_start", body) and not state.ended:
            state.phase = Phase.ANSWERED
            await self._give_up(state, "the media stream could not be started")

    async def _streaming_failed(self, state: CallState, payload: Mapping[str, Any], event_type: str) -> None:
        reason = _str(payload.get("failure_reason")) or "unknown"
        log.warning("call %s: Telnyx could not stream to us (%s)", state.call_control_id, reason)
        if state.ended or state.released or state.stream_live:
            return
        state.phase = Phase.ANSWERED
        if state.stream_attempts < 2:
            await self._start_stream(state)
        else:
            await self._give_up(state, f"streaming failed: {reason}")

    async def _give_up(self, state: CallState, why: str) -> None:
        log.error("call %s: %s; apologising and hanging up", state.call_control_id, why)
        try:
            await self._c.hangup(CallInfo(state.call_control_id, "telnyx"), message=APOLOGY)
        except CarrierError as exc:
            log.error("call %s: hang-up failed too: %s", state.call_control_id, exc)

    async def _command(self, state: CallState, action: str, body: Mapping[str, Any]) -> bool:
        try:
            await self._c.api.command(state.call_control_id, action, body)
        except TelnyxAPIError as exc:
            if exc.call_ended:
                self._c.calls.mark_ended(state)
            else:
                log.error("call %s: %s", state.call_control_id, exc)
            return False
        except CarrierError as exc:
            log.error("call %s: %s", state.call_control_id, exc)
            return False
        return True

    # -- outcomes --------------------------------------------------------------------------------

    async def _detection(self, state: CallState, payload: Mapping[str, Any], event_type: str) -> None:
        if state.ended or state.outcome is not None:
            return
        state.answered = True
        await self._start_stream(state)  # normally already streaming (call.answered came first)
        outcome, answered_by = detection_verdict(payload.get("result"))
        details = {"result": _str(payload.get("result"))}
        if outcome is CallOutcome.VOICEMAIL and state.amd in GREETING_MODES:
            if not state.machine_pending:
                state.machine_pending = True
                self.report(state, CallStatusEvent(state.call_control_id, event_type, answered_by="machine"))
                self._c.spawn(self._greeting_deadline(state))
            return
        await self._decide(state, outcome, answered_by, event_type, details)

    async def _greeting(self, state: CallState, payload: Mapping[str, Any], event_type: str) -> None:
        if state.ended or state.outcome is not None:
            return
        state.answered = True
        await self._start_stream(state)
        details = {"greeting": _str(payload.get("result"))}
        await self._decide(state, CallOutcome.VOICEMAIL, "machine", event_type, details)

    async def _greeting_deadline(self, state: CallState) -> None:
        await asyncio.sleep(self._c.greeting_timeout_s)
        async with state.lock:
            if state.machine_pending and state.outcome is None and not state.ended:
                await self._decide(state, CallOutcome.VOICEMAIL, "machine", "greeting_timeout", {})

    async def _decide(
        self, state: CallState, outcome: CallOutcome, answered_by: str, status: str, details: dict[str, str]
    ) -> None:
        state.outcome = outcome
        state.machine_pending = False
        event = CallStatusEvent(
            state.call_control_id, status=status, outcome=outcome, answered_by=answered_by, details=details
        )
        self.report(state, event)
        if outcome is CallOutcome.FAILED:  # a fax machine: nobody to talk to
            state.released = True
            await self._command(state, "hangup", {})

    async def _hangup(self, state: CallState, payload: Mapping[str, Any], event_type: str) -> None:
        if state.hangup_reported:
            return
        state.hangup_reported = True
        self._c.calls.mark_ended(state)
        state.machine_pending = False
        state.speak_done.set()
        cause, source = _str(payload.get("hangup_cause")), _str(payload.get("hangup_source"))
        outcome = hangup_outcome(cause, source, answered=state.answered)
        details = {
            "hangup_cause": cause,
            "hangup_source": source,
            "sip_hangup_cause": _str(payload.get("sip_hangup_cause")),
            "direction": state.direction or "",
        }
        self.report(
            state,
            CallStatusEvent(
                state.call_control_id,
                event_type,
                outcome=outcome,
                duration_s=_duration(payload),
                details=details,
            ),
        )

    # -- informational ---------------------------------------------------------------------------

    async def _speak_ended(self, state: CallState, payload: Mapping[str, Any], event_type: str) -> None:
        state.speak_done.set()

    async def _dtmf(self, state: CallState, payload: Mapping[str, Any], event_type: str) -> None:
        log.debug(
            "call %s: DTMF %r by webhook ignored (taken from the media stream)",
            state.call_control_id,
            payload.get("digit"),
        )

    async def _recording_saved(self, state: CallState, payload: Mapping[str, Any], event_type: str) -> None:
        details = {
            k: payload[k]
            for k in ("recording_urls", "public_recording_urls", "channels", "format")
            if k in payload
        }
        self.report(state, CallStatusEvent(state.call_control_id, event_type, details=details))

    async def _ignore(self, state: CallState, payload: Mapping[str, Any], event_type: str) -> None:
        log.debug("call %s: %s", state.call_control_id, event_type)
