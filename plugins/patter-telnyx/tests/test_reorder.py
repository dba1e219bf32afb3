"""The jitter buffer: bounded hold, in-order release, late and duplicate frames dropped."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st
from patter_telnyx.reorder import Reorderer


def feed(r: Reorderer[int], seqs: list[int]) -> list[int]:
    out: list[int] = []
    for s in seqs:
        out += r.push(s, s)
    return out + r.flush()


def test_in_order_frames_pass_immediately() -> None:
    r: Reorderer[int] = Reorderer(window=3)
    for s in range(1, 10):
        assert r.push(s, s) == [s]


def test_a_lost_frame_is_skipped_after_the_window() -> None:
    r: Reorderer[int] = Reorderer(window=3)
    assert r.push(1, 1) == [1]
    assert r.push(3, 3) == [] and r.push(4, 4) == [] and r.push(5, 5) == []
    assert r.push(6, 6) == [3, 4, 5, 6]  # more than 3 held: 2 is declared lost
    assert r.lost == 1
    assert r.push(2, 2) == [2] and r.late == 1  # too late for its place: released anyway, never lost


def test_duplicates_are_dropped() -> None:
    r: Reorderer[int] = Reorderer()
    assert r.push(1, 1) == [1] and r.push(1, 1) == [] and r.duplicates == 1


def test_no_sequence_number_means_no_reordering() -> None:
    r: Reorderer[str] = Reorderer()
    assert r.push(None, "a") == ["a"]


def test_a_sender_that_skips_numbers_turns_the_buffer_off() -> None:
    r: Reorderer[int] = Reorderer(window=2, give_up_after=4)
    out = [x for s in range(1, 40, 2) for x in r.push(s, s)]  # only odd numbers, never reordered
    assert r.passthrough
    assert out == list(range(1, 40, 2))[: len(out)] and len(out) >= 17


@given(st.integers(min_value=0, max_value=1000), st.integers(min_value=1, max_value=60))
def test_local_shuffles_within_the_window_come_out_in_order(seed: int, n: int) -> None:
    rng = random.Random(seed)
    seqs = list(range(1, n + 1))
    for i in range(0, n - 1, 2):  # swap neighbours at random: displacement of at most one frame
        if rng.random() < 0.5:
            seqs[i], seqs[i + 1] = seqs[i + 1], seqs[i]
    first = seqs[0]
    r: Reorderer[int] = Reorderer(window=3)
    out = feed(r, seqs)
    expected = (
        list(range(1, n + 1)) if first == 1 else [2, 1, *range(3, n + 1)]
    )  # a swapped first frame comes out late, but is not lost
    assert out == expected


def test_a_garbage_chunk_number_does_not_make_the_agent_deaf() -> None:
    from patter_telnyx.reorder import Reorderer

    buffer: Reorderer[int] = Reorderer()
    out: list[int] = []
    for seq in [1, 2, 3, 10**12, 4, 5, 10**12 + 7, 10**12 + 3, 6, 7]:
        out += buffer.push(seq, seq)
    assert out == [1, 2, 3, 10**12, 4, 5, 10**12 + 7, 10**12 + 3, 6, 7]  # nothing lost, real order kept
    assert buffer.implausible == 3 and buffer.late == 0


def test_a_real_counter_jump_is_followed_after_a_few_consecutive_frames() -> None:
    from patter_telnyx.reorder import Reorderer

    buffer: Reorderer[int] = Reorderer(resync_after=3)
    out: list[int] = []
    for seq in [1, 2, 5000, 5001, 5002, 5003, 5004]:
        out += buffer.push(seq, seq)
    assert out == [1, 2, 5000, 5001, 5002, 5003, 5004]
    assert buffer.implausible == 2  # then the buffer followed the new numbering


def test_a_repeated_number_with_other_content_is_kept_only_a_true_repeat_is_dropped() -> None:
    from patter_telnyx.reorder import Reorderer

    buffer: Reorderer[bytes] = Reorderer()
    assert buffer.push(1, b"a") == [b"a"]
    assert buffer.push(1, b"a") == [] and buffer.duplicates == 1  # a retransmission
    assert buffer.push(1, b"b") == [b"b"] and buffer.late == 1  # same number, other audio: kept
