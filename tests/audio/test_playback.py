"""PlaybackTracker: marks to heard milliseconds, including echoes caused by a clear."""

from __future__ import annotations

import pytest

from patter_core.audio import MarkPosition, PlaybackTracker


def _send(tracker: PlaybackTracker, seg: str, frames: int, mark_every: int = 5) -> list[str]:
    names = []
    for i in range(1, frames + 1):
        tracker.audio_sent(seg, 20)
        if i % mark_every == 0:
            names.append(tracker.place_mark(seg))
    return names


def test_marks_map_to_played_positions() -> None:
    t = PlaybackTracker()
    names = _send(t, "r1", 20)
    assert t.sent_ms("r1") == 400
    assert t.pending_marks == 4 and t.is_playing
    assert t.played_ms("r1") == 0.0
    pos = t.mark_acknowledged(names[0])
    assert pos == MarkPosition(names[0], "r1", 100.0)
    assert t.played_ms("r1") == 100.0
    t.mark_acknowledged(names[1])
    assert t.played_ms("r1") == 200.0
    assert not t.finished("r1")
    t.mark_acknowledged(names[2])
    t.mark_acknowledged(names[3])
    assert t.finished("r1") and not t.is_playing
    assert t.last_segment == "r1"


def test_mark_names_are_unique() -> None:
    t = PlaybackTracker()
    names = {t.place_mark("a") for _ in range(100)} | {PlaybackTracker().place_mark("a") for _ in range(5)}
    assert len(names) == 105


def test_echoes_returned_by_a_clear_are_not_counted_as_played() -> None:
    t = PlaybackTracker()
    names = _send(t, "r1", 20)
    t.mark_acknowledged(names[0])  # 100 ms heard
    t.cleared()  # barge-in: the carrier drops the rest and echoes the queued marks
    assert t.pending_marks == 0 and not t.is_playing
    for name in names[1:]:
        assert t.mark_acknowledged(name) is None
    assert t.played_ms("r1") == 100.0  # never overestimated
    assert t.sent_ms("r1") == 100.0  # frozen at what was heard
    assert t.finished("r1")


def test_next_segment_after_a_clear() -> None:
    t = PlaybackTracker()
    old = _send(t, "r1", 10)
    t.cleared()
    new = _send(t, "r2", 10)
    assert t.mark_acknowledged(old[1]) is None  # a late echo of the cleared response
    assert t.mark_acknowledged(new[0]) == MarkPosition(new[0], "r2", 100.0)
    assert t.played_ms("r1") == 0.0 and t.played_ms("r2") == 100.0
    assert t.last_segment == "r2"
    assert t.is_playing


def test_ack_implies_earlier_marks_were_played() -> None:
    t = PlaybackTracker()
    a = _send(t, "r1", 10)
    b = _send(t, "r2", 10)
    t.mark_acknowledged(b[0])  # the echoes of a[] were lost
    assert t.played_ms("r1") == 200.0
    assert t.finished("r1")
    assert t.pending_marks == 1
    assert t.mark_acknowledged(a[0]) is None


def test_unknown_and_duplicate_acks_do_not_raise() -> None:
    t = PlaybackTracker()
    name = t.place_mark("r1")
    assert t.mark_acknowledged("nonsense") is None
    assert t.mark_acknowledged(name) == MarkPosition(name, "r1", 0.0)
    assert t.mark_acknowledged(name) is None


def test_unknown_segments_and_bad_input() -> None:
    t = PlaybackTracker()
    assert t.played_ms("x") == 0.0 and t.sent_ms("x") == 0.0 and t.finished("x")
    assert t.last_segment is None
    with pytest.raises(ValueError):
        t.audio_sent("x", -1)


def test_custom_prefix() -> None:
    assert PlaybackTracker(prefix="call7-").place_mark("r") == "call7-1"
