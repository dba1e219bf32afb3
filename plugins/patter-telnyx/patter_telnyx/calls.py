"""Per-call state for webhook handling: a lock and a small state machine per ``call_control_id``.

Telnyx delivers webhooks duplicated, out of order and concurrently (PROTOCOLS.md §2.2). Each call gets
a :class:`CallState` whose :attr:`~CallState.lock` serialises its events, which remembers the event ids
already handled (duplicates are dropped), and whose :class:`Phase` only moves forward, so every command
is sent at most once per call however the events arrive::

    NEW --answer sent--> ANSWERING --call.answered--> ANSWERED --streaming_start--> STREAMING
     \\__________________________ call.hangup (from any phase) ____________________--> ENDED

A late ``call.initiated`` after ``call.hangup`` does not answer; a late ``call.answered`` after the stream
was requested does not request it again. Memory is bounded: at most ``max_calls`` entries (least recently
used dropped first), ended calls are forgotten after ``ended_ttl_s`` (long enough to absorb late
duplicates), any call after ``max_age_s``.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections import OrderedDict, deque
from collections.abc import Callable

import attrs

from patter_core.interfaces.carrier import CallOutcome

__all__ = ["CallState", "CallTable", "Phase"]

_SEEN_EVENTS = 64


class Phase(enum.IntEnum):
    NEW = 0
    ANSWERING = 1
    ANSWERED = 2
    STREAMING = 3
    ENDED = 4


@attrs.define(eq=False)
class CallState:
    call_control_id: str
    created_at: float
    touched_at: float
    phase: Phase = Phase.NEW
    direction: str | None = None
    """``inbound`` or ``outbound`` (from the webhook, our client_state, or place_call)."""
    caller: str = ""
    callee: str = ""
    amd: str | None = None
    """The answering-machine-detection mode requested on dial, if any."""
    answered: bool = False
    """Someone (or something) picked up: ``call.answered`` or a detection result was seen."""
    outcome: CallOutcome | None = None
    """The decided outcome of an outbound attempt (reported once)."""
    machine_pending: bool = False
    """A machine was detected; waiting for the greeting to end before reporting VOICEMAIL."""
    hangup_reported: bool = False
    """``call.hangup`` was handled (the phase may reach ENDED earlier, from a 90018 reply)."""
    released: bool = False
    """We hung up or handed the call off (transfer): never start streaming on it again."""
    stream_attempts: int = 0
    stream_live: bool = False
    parameters: dict[str, str] = attrs.field(factory=dict)
    """Custom parameters of an outbound call, passed to its stream (``custom_parameters``)."""
    speak_done: asyncio.Event = attrs.field(factory=asyncio.Event)
    lock: asyncio.Lock = attrs.field(factory=asyncio.Lock)
    _seen: deque[str] = attrs.field(factory=lambda: deque(maxlen=_SEEN_EVENTS))

    def first_time(self, event_id: object) -> bool:
        """True the first time an event id is seen (events without an id always count as new)."""
        if not isinstance(event_id, str) or not event_id:
            return True
        if event_id in self._seen:
            return False
        self._seen.append(event_id)
        return True

    def advance(self, phase: Phase) -> bool:
        """Move forward to ``phase``; ``False`` (and no change) if the call is already there or past."""
        if self.phase >= phase:
            return False
        self.phase = phase
        return True

    @property
    def ended(self) -> bool:
        return self.phase is Phase.ENDED


class CallTable:
    """The calls this process knows about, bounded in number and age."""

    def __init__(
        self,
        *,
        max_calls: int = 10_000,
        ended_ttl_s: float = 600.0,
        max_age_s: float = 5 * 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_calls = max_calls
        self.ended_ttl_s = ended_ttl_s
        self.max_age_s = max_age_s
        self._clock = clock
        self._calls: OrderedDict[str, CallState] = OrderedDict()
        self._ended_at: dict[str, float] = {}
        self._pruned_at = float("-inf")

    def __len__(self) -> int:
        return len(self._calls)

    def get(self, call_control_id: str) -> CallState | None:
        return self._calls.get(call_control_id)

    def get_or_create(self, call_control_id: str) -> CallState:
        now = self._clock()
        state = self._calls.get(call_control_id)
        if state is None:
            self.prune(now)
            state = CallState(call_control_id, created_at=now, touched_at=now)
            self._calls[call_control_id] = state
        else:
            state.touched_at = now
            self._calls.move_to_end(call_control_id)
        return state

    def mark_ended(self, state: CallState) -> None:
        state.phase = Phase.ENDED
        self._ended_at[state.call_control_id] = self._clock()

    def prune(self, now: float | None = None, *, force: bool = False) -> None:
        """Forget expired calls (a full scan at most every 30 s unless ``force``), then the least
        recently used ones beyond ``max_calls``."""
        now = self._clock() if now is None else now
        if force or now - self._pruned_at >= 30.0:
            self._pruned_at = now
            self._expire(now)
        while len(self._calls) >= self.max_calls:
            self._drop(next(iter(self._calls)))

    def _expire(self, now: float) -> None:
        for call_id, ended_at in list(self._ended_at.items()):
            if now - ended_at > self.ended_ttl_s:
                self._drop(call_id)
        for call_id, state in list(self._calls.items()):
            if now - state.created_at > self.max_age_s:
                self._drop(call_id)

    def _drop(self, call_id: str) -> None:
        self._calls.pop(call_id, None)
        self._ended_at.pop(call_id, None)
