"""How Telnyx events decide an outbound call's outcome (and a hang-up's final word).

Hang-up causes (``call.hangup``.``hangup_cause``):

================================  ==============================================================
cause                             outcome
================================  ==============================================================
any cause after the call answered COMPLETED (the conversation happened)
``normal_clearing``               COMPLETED
``user_busy``                     BUSY
``no_answer``, ``timeout``        NO_ANSWER
``originator_cancel``             CANCELED (our side gave up before an answer)
``call_rejected``                 CANCELED when ``hangup_source`` is ``caller`` (our side rejected),
                                  else FAILED (the far end or the network refused it)
``time_limit``                    COMPLETED
``not_found``, ``unspecified``…   FAILED
================================  ==============================================================

Machine detection (``result`` of ``call.machine.detection.ended`` / ``call.machine.premium.detection.ended``):
``human``, ``human_residence``, ``human_business`` -> ANSWERED; ``machine`` -> VOICEMAIL; ``not_sure``
and ``silence`` -> ANSWERED with ``answered_by="unknown"`` (the agent talks; a person may be there);
``fax_detected`` -> FAILED (and the call is hung up). A ``call.machine.greeting.ended`` always means a
machine.
"""

from __future__ import annotations

from patter_core.interfaces.carrier import CallOutcome

__all__ = ["detection_verdict", "hangup_outcome"]

_HUMAN = frozenset({"human", "human_residence", "human_business"})
_UNSURE = frozenset({"not_sure", "silence", "unknown"})


def hangup_outcome(cause: str | None, source: str | None, *, answered: bool) -> CallOutcome:
    if answered:
        return CallOutcome.COMPLETED
    match cause:
        case "normal_clearing" | "time_limit":
            return CallOutcome.COMPLETED
        case "user_busy":
            return CallOutcome.BUSY
        case "no_answer" | "timeout":
            return CallOutcome.NO_ANSWER
        case "originator_cancel":
            return CallOutcome.CANCELED
        case "call_rejected":
            return CallOutcome.CANCELED if source == "caller" else CallOutcome.FAILED
        case _:
            return CallOutcome.FAILED


def detection_verdict(result: object) -> tuple[CallOutcome, str]:
    """``(outcome, answered_by)`` for a machine-detection result."""
    text = str(result or "").strip().lower()
    if text in _HUMAN:
        return CallOutcome.ANSWERED, text
    if text == "machine":
        return CallOutcome.VOICEMAIL, "machine"
    if text == "fax_detected":
        return CallOutcome.FAILED, "fax"
    return CallOutcome.ANSWERED, "unknown" if text in _UNSURE or not text else text
