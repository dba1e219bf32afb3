"""Per-call state, outcomes and call-id path encoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from patter_telnyx.calls import CallTable, Phase
from patter_telnyx.outcomes import detection_verdict, hangup_outcome
from patter_telnyx.paths import decode_call_id, encode_call_id, stream_path

from patter_core.interfaces.carrier import CallOutcome


def test_phase_only_moves_forward() -> None:
    state = CallTable().get_or_create("v3:a")
    assert state.advance(Phase.ANSWERING) and not state.advance(Phase.ANSWERING)
    assert state.advance(Phase.STREAMING) and not state.advance(Phase.ANSWERED)


def test_event_ids_are_remembered_per_call() -> None:
    state = CallTable().get_or_create("v3:a")
    assert state.first_time("e1") and not state.first_time("e1") and state.first_time("e2")
    assert state.first_time(None) and state.first_time(None)


def test_the_table_is_bounded_in_size_and_age() -> None:
    now = [0.0]
    table = CallTable(max_calls=3, ended_ttl_s=10, max_age_s=100, clock=lambda: now[0])
    for i in range(5):
        table.get_or_create(f"c{i}")
    assert len(table) == 3 and table.get("c0") is None and table.get("c4") is not None
    table.mark_ended(table.get_or_create("c4"))
    now[0] = 11
    table.prune(force=True)
    assert table.get("c4") is None and table.get("c3") is not None
    now[0] = 200
    table.prune(force=True)
    assert len(table) == 0


@pytest.mark.parametrize(
    ("cause", "source", "answered", "outcome"),
    [
        ("normal_clearing", "caller", True, CallOutcome.COMPLETED),
        ("user_busy", "callee", True, CallOutcome.COMPLETED),
        ("normal_clearing", "callee", False, CallOutcome.COMPLETED),
        ("user_busy", "callee", False, CallOutcome.BUSY),
        ("no_answer", "callee", False, CallOutcome.NO_ANSWER),
        ("timeout", "unknown", False, CallOutcome.NO_ANSWER),
        ("originator_cancel", "caller", False, CallOutcome.CANCELED),
        ("call_rejected", "caller", False, CallOutcome.CANCELED),
        ("call_rejected", "callee", False, CallOutcome.FAILED),
        ("not_found", "unknown", False, CallOutcome.FAILED),
        ("", "", False, CallOutcome.FAILED),
    ],
)
def test_hangup_outcomes(cause: str, source: str, answered: bool, outcome: CallOutcome) -> None:
    assert hangup_outcome(cause, source, answered=answered) is outcome


@pytest.mark.parametrize(
    ("result", "outcome", "by"),
    [
        ("human", CallOutcome.ANSWERED, "human"),
        ("human_business", CallOutcome.ANSWERED, "human_business"),
        ("machine", CallOutcome.VOICEMAIL, "machine"),
        ("not_sure", CallOutcome.ANSWERED, "unknown"),
        ("silence", CallOutcome.ANSWERED, "unknown"),
        ("fax_detected", CallOutcome.FAILED, "fax"),
        (None, CallOutcome.ANSWERED, "unknown"),
    ],
)
def test_detection_verdicts(result: str | None, outcome: CallOutcome, by: str) -> None:
    assert detection_verdict(result) == (outcome, by)


@given(st.text(min_size=1, max_size=200).filter(str.isprintable))
def test_call_ids_survive_the_path_segment(call_id: str) -> None:
    segment = encode_call_id(call_id)
    assert decode_call_id(segment) == call_id
    assert "/" not in segment and "%" not in segment and "=" not in segment


def test_stream_path_and_bad_segments() -> None:
    assert stream_path("v3:abc") == "/ws/telnyx/stream/djM6YWJj"
    for bad in ("", "djM6YWJj=", "dj M6", "a", "djM6YWJk_", "../x"):
        assert decode_call_id(bad) is None
