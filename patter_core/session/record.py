"""The call record: transcript, events and metrics of one call, handed to ``on_call_end``.

Entries are appended as the call goes; an optional sink (see :class:`RecordSink`) persists each one
the moment it is added, so a record survives an abrupt end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs

from patter_core.interfaces.carrier import CallInfo
from patter_core.session.metrics import TurnMetrics

__all__ = ["CallEvent", "CallRecord", "RecordSink", "TranscriptEntry"]

RecordSink = Callable[[str, dict[str, Any]], None]
"""Called with ``(kind, payload)`` for every entry added to a record (kinds: ``start``, ``transcript``,
``event``, ``metrics``, ``end``)."""


@attrs.define
class TranscriptEntry:
    role: str
    """``caller`` or ``agent``."""
    text: str
    at: float
    """Seconds since the call started."""
    interrupted: bool = False
    full_text: str | None = None
    """For an interrupted agent utterance: what it would have said (``text`` is what was heard)."""


@attrs.define
class CallEvent:
    type: str
    """``dtmf``, ``tool_call``, ``tool_result``, ``barge_in``, ``guardrail``, ``transfer``, ``hangup``,
    ``error``, ``provider_reconnect`` ..."""
    at: float
    data: dict[str, Any] = attrs.field(factory=dict)


@attrs.define
class CallRecord:
    call: CallInfo
    mode: str
    started_at: float = attrs.field(factory=time.time)
    """Unix time of the call's start."""
    ended_at: float | None = None
    end_reason: str | None = None
    transcript: list[TranscriptEntry] = attrs.field(factory=list)
    events: list[CallEvent] = attrs.field(factory=list)
    turns: list[TurnMetrics] = attrs.field(factory=list)
    recording_path: str | None = None
    sink: RecordSink | None = attrs.field(default=None, repr=False, eq=False)
    _t0: float = attrs.field(factory=time.monotonic, repr=False, eq=False)

    def now(self) -> float:
        """Seconds since the call started (monotonic)."""
        return round(time.monotonic() - self._t0, 4)

    def _emit(self, kind: str, payload: dict[str, Any]) -> None:
        if self.sink is not None:
            self.sink(kind, payload)

    def add_transcript(
        self, role: str, text: str, *, interrupted: bool = False, full_text: str | None = None
    ) -> None:
        entry = TranscriptEntry(
            role=role, text=text, at=self.now(), interrupted=interrupted, full_text=full_text
        )
        self.transcript.append(entry)
        self._emit("transcript", attrs.asdict(entry))

    def add_event(self, type: str, **data: Any) -> CallEvent:
        event = CallEvent(type=type, at=self.now(), data=data)
        self.events.append(event)
        self._emit("event", attrs.asdict(event))
        return event

    def add_turn(self, metrics: TurnMetrics) -> None:
        self.turns.append(metrics)
        self._emit("metrics", metrics.as_dict())

    def finish(self, reason: str) -> None:
        if self.ended_at is not None:
            return
        self.ended_at = time.time()
        self.end_reason = reason
        self._emit("end", {"reason": reason, "duration_s": self.duration_s})

    @property
    def duration_s(self) -> float:
        end = self.ended_at if self.ended_at is not None else time.time()
        return round(end - self.started_at, 3)

    def events_of(self, type: str) -> list[CallEvent]:
        return [e for e in self.events if e.type == type]

    def text_of(self, role: str) -> list[str]:
        return [e.text for e in self.transcript if e.role == role]

    def to_dict(self) -> dict[str, Any]:
        return {
            "call": attrs.asdict(self.call),
            "mode": self.mode,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_s": self.duration_s,
            "end_reason": self.end_reason,
            "transcript": [attrs.asdict(t) for t in self.transcript],
            "events": [attrs.asdict(e) for e in self.events],
            "turns": [t.as_dict() for t in self.turns],
            "recording_path": self.recording_path,
        }
