"""Deliver a "machine answered" verdict when the call's session can act on it.

The core leaves a voicemail when :meth:`CallHost.report_status` receives a ``VOICEMAIL`` outcome for a
call whose session is running: it speaks the message through the agent's own engine or TTS and hangs
up. But a session can only speak once its mode has started (engine connected / TTS open), and a
verdict can arrive before that: synchronous AMD decides before the stream even opens, and an
asynchronous verdict can race the stream's start. So verdicts go through this router:

* the stream is live and the session has started speaking (its first outbound frame) -> report now;
* otherwise keep the verdict until that happens, or until ``ready_fallback_s`` after the stream started
  (an agent with no first message may stay silent);
* a verdict whose stream never comes is reported after ``give_up_s`` (so ``OutboundCall.outcome()``
  still resolves), and one pending when its stream ends is reported at once.

This is process-local state, a stop-gap the core should absorb (see the plugin README).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from patter_core.interfaces.carrier import CallHost, CallStatusEvent

__all__ = ["VerdictRouter"]

log = logging.getLogger("patter.twilio")


def _noop() -> None:
    return None


class _Live:
    __slots__ = ("fallback", "ready")

    def __init__(self) -> None:
        self.ready = False
        self.fallback: asyncio.TimerHandle | None = None


class VerdictRouter:
    def __init__(self, *, ready_fallback_s: float = 3.0, give_up_s: float = 30.0) -> None:
        self.ready_fallback_s = ready_fallback_s
        self.give_up_s = give_up_s
        self.host: CallHost | None = None
        self._live: dict[str, _Live] = {}
        self._pending: dict[str, tuple[CallStatusEvent, asyncio.TimerHandle | None]] = {}

    def deliver(self, event: CallStatusEvent) -> None:
        """Report ``event`` now if its session can act on it, else when it can."""
        live = self._live.get(event.call_id)
        if live is not None and live.ready:
            self._report(event)
            return
        self._drop_pending(event.call_id)
        timer = None
        if live is None:
            timer = asyncio.get_running_loop().call_later(self.give_up_s, self._flush, event.call_id)
        self._pending[event.call_id] = (event, timer)
        log.debug("call %s: machine verdict held until the session is speaking", event.call_id)

    def stream_started(self, call_id: str) -> tuple[Callable[[], None], Callable[[], None]]:
        """Note a live stream; returns ``(ready, ended)`` callbacks for it.

        A second stream for a call that already has one (the core refuses it) gets no-op callbacks,
        so it cannot disturb the first stream's state.
        """
        if call_id in self._live:
            return _noop, _noop
        live = _Live()
        self._live[call_id] = live
        live.fallback = asyncio.get_running_loop().call_later(
            self.ready_fallback_s, self.session_ready, call_id
        )
        pending = self._pending.get(call_id)
        if pending is not None and pending[1] is not None:
            pending[1].cancel()
            self._pending[call_id] = (pending[0], None)

        def ended() -> None:
            if self._live.get(call_id) is live:
                self.stream_ended(call_id)

        return (lambda: self.session_ready(call_id)), ended

    def session_ready(self, call_id: str) -> None:
        live = self._live.get(call_id)
        if live is None or live.ready:
            return
        live.ready = True
        if live.fallback is not None:
            live.fallback.cancel()
            live.fallback = None
        self._flush(call_id)

    def stream_ended(self, call_id: str) -> None:
        live = self._live.pop(call_id, None)
        if live is not None and live.fallback is not None:
            live.fallback.cancel()
        self._flush(call_id)

    def close(self) -> None:
        for live in self._live.values():
            if live.fallback is not None:
                live.fallback.cancel()
        self._live.clear()
        for call_id in list(self._pending):
            self._drop_pending(call_id)

    @property
    def pending(self) -> list[str]:
        return list(self._pending)

    def _drop_pending(self, call_id: str) -> CallStatusEvent | None:
        entry = self._pending.pop(call_id, None)
        if entry is None:
            return None
        if entry[1] is not None:
            entry[1].cancel()
        return entry[0]

    def _flush(self, call_id: str) -> None:
        event = self._drop_pending(call_id)
        if event is not None:
            self._report(event)

    def _report(self, event: CallStatusEvent) -> None:
        if self.host is None:
            log.warning("call %s: machine verdict dropped: the carrier is not mounted", event.call_id)
            return
        self.host.report_status(event)
