"""Framer: exact frames from arbitrary (odd) chunk sizes, padding with the format's silence."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patter_core.audio import ALAW_8K, L16_16K, MULAW_8K, PCM16_16K, PCM16_24K, Framer


def test_for_format_sizes_and_silence() -> None:
    assert (Framer.for_format(MULAW_8K).frame_bytes, Framer.for_format(MULAW_8K).silence) == (160, b"\xff")
    assert Framer.for_format(ALAW_8K).silence == b"\xd5"
    assert (Framer.for_format(PCM16_16K).frame_bytes, Framer.for_format(PCM16_16K).silence) == (640, b"\x00")
    assert Framer.for_format(PCM16_24K, ms=10).frame_bytes == 480
    assert Framer.for_format(L16_16K).frame_bytes % 2 == 0


@settings(deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=700), max_size=30))
def test_frames_reassemble_the_stream(chunks: list[bytes]) -> None:
    framer = Framer.for_format(PCM16_16K)
    frames: list[bytes] = []
    for chunk in chunks:
        frames += framer.push(chunk)
        assert framer.pending < 640
    assert all(len(f) == 640 for f in frames)
    stream = b"".join(chunks)
    assert b"".join(frames) == stream[: len(frames) * 640]
    assert framer.pending == len(stream) % 640
    last = framer.flush()
    if len(stream) % 640:
        assert last is not None and len(last) == 640
        assert last == stream[len(frames) * 640 :] + b"\x00" * (640 - len(stream) % 640)
    else:
        assert last is None
    assert framer.pending == 0


def test_odd_chunks_never_split_a_sample() -> None:
    framer = Framer.for_format(PCM16_16K)
    out = []
    for size in (1, 333, 2, 639, 641, 3):
        out += framer.push(bytes(range(256)) * 3 + b"\x00" * (size - 768) if size > 768 else b"\x07" * size)
    assert all(len(f) % 2 == 0 for f in out)


def test_exact_frame_is_returned_without_copy_when_nothing_pending() -> None:
    framer = Framer(160, b"\xff")
    frame = b"\x01" * 160
    assert framer.push(frame)[0] is frame


def test_flush_without_padding_and_reset() -> None:
    framer = Framer.for_format(MULAW_8K)
    assert framer.push(b"\x01" * 170) == [b"\x01" * 160]
    assert framer.flush(pad=False) == b"\x01" * 10
    assert framer.flush() is None
    framer.push(b"\x02" * 5)
    framer.reset()
    assert framer.pending == 0
    framer.push(b"\x03" * 5)
    assert framer.flush() == b"\x03" * 5 + b"\xff" * 155


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="positive"):
        Framer(0)
    with pytest.raises(ValueError, match="single byte"):
        Framer(160, b"")
    with pytest.raises(ValueError, match="split"):
        Framer(641, sample_width=2)
    with pytest.raises(TypeError):
        Framer(160).push("x")  # type: ignore[arg-type]
