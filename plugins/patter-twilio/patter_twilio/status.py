"""Twilio call status and answering-machine verdicts -> :class:`~patter_core.interfaces.CallStatusEvent`.

Status callbacks (PROTOCOLS §1.8) carry ``CallStatus``: ``queued``/``initiated``/``ringing`` (no
outcome yet), ``in-progress`` (answered) and the terminal ``completed``/``busy``/``no-answer``/``failed``/
``canceled``. Machine detection answers ``AnsweredBy``: ``human``, ``machine_start``,
``machine_end_beep``, ``machine_end_silence``, ``machine_end_other``, ``fax`` or ``unknown``.

When machine detection was requested, "answered" does not decide the outcome: the verdict does
(human/unknown -> answered, machine_* -> voicemail, fax -> failed). Deliveries can repeat, so
:class:`SeenKeys` remembers what was already reported.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping

from patter_core.interfaces.carrier import CallOutcome, CallStatusEvent

__all__ = [
    "ANSWERED_STATUSES",
    "TERMINAL_OUTCOMES",
    "SeenKeys",
    "answered_by_kind",
    "status_event",
    "verdict_event",
    "verdict_outcome",
]

ANSWERED_STATUSES = frozenset({"in-progress", "answered"})
TERMINAL_OUTCOMES: Mapping[str, CallOutcome] = {
    "completed": CallOutcome.COMPLETED,
    "busy": CallOutcome.BUSY,
    "no-answer": CallOutcome.NO_ANSWER,
    "failed": CallOutcome.FAILED,
    "canceled": CallOutcome.CANCELED,
}
_DETAIL_FIELDS = (
    "Direction",
    "From",
    "To",
    "SequenceNumber",
    "Timestamp",
    "CallbackSource",
    "SipResponseCode",
    "AnsweredBy",
    "MachineDetectionDuration",
    "ParentCallSid",
    "RecordingSid",
    "RecordingUrl",
)


def answered_by_kind(answered_by: str | None) -> str | None:
    """``machine_end_beep`` -> ``machine``; ``human``, ``fax``, ``unknown`` as they are; else ``None``."""
    if not answered_by:
        return None
    value = answered_by.strip().lower()
    if value.startswith("machine"):
        return "machine"
    if value in ("human", "fax", "unknown"):
        return value
    return "unknown"


def verdict_outcome(kind: str) -> CallOutcome:
    if kind == "machine":
        return CallOutcome.VOICEMAIL
    if kind == "fax":
        return CallOutcome.FAILED
    return CallOutcome.ANSWERED


def _details(form: Mapping[str, str]) -> dict[str, str]:
    return {name: form[name] for name in _DETAIL_FIELDS if form.get(name)}


def _duration(form: Mapping[str, str]) -> float | None:
    raw = form.get("CallDuration") or form.get("Duration")
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def verdict_event(call_sid: str, answered_by: str, form: Mapping[str, str]) -> CallStatusEvent:
    """The event for a machine-detection verdict."""
    kind = answered_by_kind(answered_by) or "unknown"
    return CallStatusEvent(
        call_id=call_sid,
        status=form.get("CallStatus") or "in-progress",
        outcome=verdict_outcome(kind),
        answered_by=kind,
        details=_details(form),
    )


def status_event(form: Mapping[str, str], *, machine_detection: bool) -> CallStatusEvent:
    """The event for one status callback (``form`` is the callback's form, ``CallSid`` present)."""
    status = (form.get("CallStatus") or "").strip().lower()
    outcome: CallOutcome | None = None
    kind = answered_by_kind(form.get("AnsweredBy"))
    if status in TERMINAL_OUTCOMES:
        outcome = TERMINAL_OUTCOMES[status]
    elif status in ANSWERED_STATUSES:
        if kind is not None:
            outcome = verdict_outcome(kind)
        elif not machine_detection:
            outcome = CallOutcome.ANSWERED
    return CallStatusEvent(
        call_id=form["CallSid"],
        status=status,
        outcome=outcome,
        answered_by=kind,
        duration_s=_duration(form),
        details=_details(form),
    )


class SeenKeys:
    """A bounded set of recently seen delivery keys (oldest forgotten first)."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[Hashable, None] = OrderedDict()

    def first_time(self, key: Hashable) -> bool:
        """``True`` the first time ``key`` is seen; ``False`` for a repeat."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self._keys[key] = None
        if len(self._keys) > self.capacity:
            self._keys.popitem(last=False)
        return True

    def __contains__(self, key: Hashable) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)
