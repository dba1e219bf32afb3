"""Streaming resampler: exact lengths, chunking invariance, alias/image rejection, passband, delay."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patter_core.audio import Resampler, resample_offline
from patter_core.audio.analysis import measure_delay, measure_quality, sine

REQUIRED_PAIRS = [
    (8000, 16000), (16000, 8000), (8000, 24000), (24000, 8000), (16000, 24000), (24000, 16000),
    (16000, 48000), (48000, 16000), (22050, 8000), (22050, 16000), (44100, 16000),
]  # fmt: skip
EXTRA_PAIRS = [(8000, 48000), (48000, 8000), (16000, 44100), (44100, 48000), (16000, 22050)]


def _expected_outputs(n_in: int, src: int, dst: int) -> int:
    g = math.gcd(src, dst)
    return -(-n_in * (dst // g) // (src // g))


@pytest.mark.parametrize(("src", "dst"), REQUIRED_PAIRS + EXTRA_PAIRS)
def test_quality_targets(src: int, dst: int) -> None:
    """>= 80 dB alias/image rejection beyond the band edge, passband flat within 0.5 dB."""
    q = measure_quality(lambda: Resampler(src, dst), src, dst, tones=6, seconds=0.3)
    assert q.rejection_db >= 80.0, q
    assert q.passband_dev_db <= 0.5, q


@pytest.mark.parametrize(("src", "dst"), REQUIRED_PAIRS)
def test_added_delay_from_step_response(src: int, dst: int) -> None:
    r = Resampler(src, dst)
    d = measure_delay(lambda: Resampler(src, dst), src, dst)
    assert d.lag_ms == 0.0  # nothing held back: every frame's output comes out with the frame
    assert d.first_output_ms == 20
    assert 0 < d.added_ms <= 5.0
    assert d.shift_ms == pytest.approx(r.delay_ms, abs=1000 / min(src, dst))


@pytest.mark.parametrize(("src", "dst"), REQUIRED_PAIRS)
def test_impulse_peak_sits_at_the_documented_delay(src: int, dst: int) -> None:
    r = Resampler(src, dst)
    x = np.zeros(src // 10, dtype=np.int16)
    x[src // 50] = 30000
    y = r.process(x)
    peak_ms = (int(np.argmax(y)) / dst - (src // 50) / src) * 1000
    assert abs(peak_ms - r.delay_ms) <= 1000 / dst + 1e-9
    assert r.delay_ms <= 5.0


@pytest.mark.parametrize(("src", "dst"), REQUIRED_PAIRS)
def test_every_20ms_frame_yields_exactly_20ms(src: int, dst: int) -> None:
    r = Resampler(src, dst)
    frame = np.random.default_rng(0).integers(-3000, 3000, src // 50).astype(np.int16)
    for _ in range(60):
        assert len(r.process(frame)) == dst // 50


@pytest.mark.parametrize(("src", "dst"), REQUIRED_PAIRS + EXTRA_PAIRS)
def test_lengths_and_output_are_independent_of_chunking(src: int, dst: int) -> None:
    rng = np.random.default_rng(src + dst)
    x = rng.integers(-8000, 8000, 3 * src).astype(np.int16)
    framed = Resampler(src, dst)
    ref = np.concatenate([framed.process(x[i : i + src // 50]) for i in range(0, len(x), src // 50)])
    ref = np.concatenate([ref, framed.flush()])

    r = Resampler(src, dst)
    pieces, fed, got, i = [], 0, 0, 0
    sizes = [0, 1, 2, 3, 7, 159, 160, 441, 882, 1000, 4801, 12000]
    while i < len(x):
        n = int(rng.choice(sizes))
        y = r.process(x[i : i + n])
        i += n
        fed += len(x[i - n : i])
        got += len(y)
        pieces.append(y)
        assert got == _expected_outputs(fed, src, dst)
        assert y.dtype == np.int16
    tail = r.flush()
    assert abs(len(tail) - r.delay_ms * dst / 1000) <= 1  # the group delay's worth of audio
    np.testing.assert_array_equal(np.concatenate([*pieces, tail]), ref)


@settings(max_examples=40, deadline=None)
@given(
    pair=st.sampled_from(REQUIRED_PAIRS),
    sizes=st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=40),
)
def test_output_count_is_exact_for_any_chunk_sizes(pair: tuple[int, int], sizes: list[int]) -> None:
    src, dst = pair
    r = Resampler(src, dst)
    fed = got = 0
    for n in sizes:
        got += len(r.process(np.ones(n, dtype=np.int16)))
        fed += n
        assert got == _expected_outputs(fed, src, dst)


def test_flush_drains_the_tail_and_resets() -> None:
    r = Resampler(16000, 8000)
    x = sine(1000, 16000, 0.1)
    y = r.process(x)
    tail = r.flush()
    assert len(y) == len(x) // 2
    assert len(tail) == math.ceil(r.delay_ms * 8)
    assert np.abs(tail[: len(tail) // 2]).max() > 1000  # the delayed end of the tone
    # after flush the resampler starts a fresh stream
    assert len(r.process(np.zeros(320, dtype=np.int16))) == 160
    assert len(r.flush()) == len(tail)
    assert len(r.flush()) == 0  # nothing fed since


def test_reset_gives_identical_results() -> None:
    r = Resampler(8000, 24000)
    x = sine(440, 8000, 0.2)
    first = r.process(x)
    r.reset()
    np.testing.assert_array_equal(r.process(x), first)


def test_same_rate_is_an_identity_copy() -> None:
    r = Resampler(16000, 16000)
    x = sine(440, 16000, 0.02)
    y = r.process(x)
    np.testing.assert_array_equal(x, y)
    assert y is not x
    assert r.delay_ms == 0.0
    assert len(r.flush()) == 0


def test_full_scale_does_not_wrap() -> None:
    r = Resampler(8000, 16000)
    x = np.tile(np.array([32767, 32767, -32768, -32768], dtype=np.int16), 400)  # 2 kHz square: overshoot
    y = r.process(x)
    assert y.max() == 32767 and y.min() == -32768  # clipped, not wrapped around


def test_accepts_bytes_and_rejects_bad_input() -> None:
    r = Resampler(8000, 16000)
    assert len(r.process(np.zeros(160, dtype=np.int16).tobytes())) == 320
    assert len(r.process(np.zeros(0, dtype=np.int16))) == 0
    with pytest.raises(TypeError, match="int16"):
        r.process(np.zeros(160, dtype=np.float32))
    with pytest.raises(ValueError, match="odd"):
        r.process(b"\x00\x00\x00")
    with pytest.raises(ValueError, match="mono"):
        r.process(np.zeros((160, 2), dtype=np.int16))
    for bad in (0, -8000, 8000.0, True):
        with pytest.raises(ValueError, match="positive int"):
            Resampler(bad, 16000)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="resample_offline"):
        Resampler(8001, 16000)


def test_resample_offline_is_soxr_quality() -> None:
    x = sine(1000, 24000, 0.5)
    y = resample_offline(x, 24000, 16000)
    assert y.dtype == np.int16
    assert len(y) == 8000
    np.testing.assert_array_equal(resample_offline(x, 24000, 24000), x)
    assert len(resample_offline(np.zeros(0, dtype=np.int16), 8000, 16000)) == 0
    # time-aligned, no delay: compare with the ideal tone
    ideal = sine(1000, 16000, 0.5).astype(float)
    err = y[400:-400].astype(float) - ideal[400:-400]
    assert np.sqrt(np.mean(err**2)) < 30
