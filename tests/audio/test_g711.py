"""G.711 tables against PROTOCOLS.md section 7, exhaustive round trips, and input validation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from patter_core.audio import alaw_decode, alaw_encode, alaw_to_ulaw, ulaw_decode, ulaw_encode, ulaw_to_alaw
from patter_core.audio.g711 import ALAW_DECODE_TABLE, ULAW_DECODE_TABLE

ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
ALL_CODES = bytes(range(256))

ENCODE_VECTORS = [
    (0, 0xFF), (1, 0xFF), (2, 0xFF), (-1, 0x7F), (-2, 0x7F), (7, 0xFE), (8, 0xFE), (100, 0xF2),
    (-100, 0x72), (1000, 0xCE), (-1000, 0x4E), (4096, 0xAF), (-4096, 0x2F), (8031, 0xA0),
    (8159, 0x9F), (16000, 0x90), (32124, 0x80), (32635, 0x80), (32767, 0x80), (-32767, 0x00),
    (-32768, 0x00),
]  # fmt: skip
DECODE_VECTORS = [
    (0xFF, 0), (0x7F, 0), (0xFE, 8), (0x7E, -8), (0xF0, 120), (0xCF, 924), (0x4F, -924),
    (0x8F, 16764), (0x0F, -16764), (0x10, -15996), (0x80, 32124), (0x00, -32124), (0x01, -31100),
]  # fmt: skip


def _audioop():  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:
            pytest.skip("audioop is not available on this Python")
    return audioop


@pytest.mark.parametrize(("sample", "code"), ENCODE_VECTORS)
def test_ulaw_encode_vectors(sample: int, code: int) -> None:
    assert ulaw_encode(np.array([sample], dtype=np.int16)) == bytes([code])


@pytest.mark.parametrize(("code", "sample"), DECODE_VECTORS)
def test_ulaw_decode_vectors(code: int, sample: int) -> None:
    out = ulaw_decode(bytes([code]))
    assert out.dtype == np.int16
    assert out.tolist() == [sample]


def test_ulaw_byte_round_trip_is_identity_except_negative_zero() -> None:
    again = ulaw_encode(ulaw_decode(ALL_CODES))
    diff = [c for c in range(256) if again[c] != c]
    assert diff == [0x7F]
    assert again[0x7F] == 0xFF


def test_alaw_byte_round_trip_is_identity() -> None:
    assert alaw_encode(alaw_decode(ALL_CODES)) == ALL_CODES


def _segment_step(decoded: np.ndarray) -> np.ndarray:
    """Quantisation step of the segment each decoded value lies in (distance to its neighbour code)."""
    levels = np.unique(decoded)
    gaps = np.diff(levels)
    idx = np.clip(np.searchsorted(levels, decoded), 1, len(levels) - 1)
    return np.maximum(gaps[idx - 1], gaps[np.minimum(idx, len(gaps) - 1)])


@pytest.mark.parametrize(
    ("encode", "decode", "clip"), [(ulaw_encode, ulaw_decode, 32124), (alaw_encode, alaw_decode, 32256)]
)
def test_sample_round_trip_error_within_one_step(encode, decode, clip) -> None:  # type: ignore[no-untyped-def]
    back = decode(encode(ALL_SAMPLES)).astype(np.int32)
    s = ALL_SAMPLES.astype(np.int32)
    inside = np.abs(s) <= clip
    err = np.abs(back - s)[inside]
    assert np.all(err <= _segment_step(back[inside]))
    # beyond the largest code the output saturates at it
    assert np.all(np.abs(back[~inside]) == clip)


def test_ulaw_matches_audioop_except_the_documented_381_negative_values() -> None:
    audioop = _audioop()
    ours = np.frombuffer(ulaw_encode(ALL_SAMPLES), dtype=np.uint8)
    ref = np.frombuffer(audioop.lin2ulaw(ALL_SAMPLES.tobytes(), 2), dtype=np.uint8)
    differs = ours != ref
    assert differs.sum() == 381
    assert np.all(ALL_SAMPLES[differs] < 0)
    # one code apart, and never a worse reconstruction error than audioop's encoder
    assert np.all(np.abs(ours[differs].astype(int) - ref[differs].astype(int)) == 1)
    s = ALL_SAMPLES.astype(np.int32)
    our_err = np.abs(ULAW_DECODE_TABLE[ours].astype(np.int32) - s)
    ref_err = np.abs(ULAW_DECODE_TABLE[ref].astype(np.int32) - s)
    assert our_err.max() <= ref_err.max()
    assert np.mean(our_err) <= np.mean(ref_err)
    assert ulaw_decode(ALL_CODES).tobytes() == audioop.ulaw2lin(ALL_CODES, 2)


def test_alaw_is_bit_exact_with_audioop() -> None:
    audioop = _audioop()
    assert alaw_encode(ALL_SAMPLES) == audioop.lin2alaw(ALL_SAMPLES.tobytes(), 2)
    assert alaw_decode(ALL_CODES).tobytes() == audioop.alaw2lin(ALL_CODES, 2)


def test_silence_bytes_decode_to_near_zero() -> None:
    assert ulaw_decode(b"\xff" * 4).tolist() == [0] * 4
    assert ALAW_DECODE_TABLE[0xD5] == 8
    assert alaw_encode(np.zeros(3, dtype=np.int16)) == b"\xd5" * 3
    assert ulaw_encode(np.zeros(3, dtype=np.int16)) == b"\xff" * 3


def test_g711_transcoding_tables_equal_decode_then_encode() -> None:
    assert ulaw_to_alaw(ALL_CODES) == alaw_encode(ulaw_decode(ALL_CODES))
    assert alaw_to_ulaw(ALL_CODES) == ulaw_encode(alaw_decode(ALL_CODES))


def test_encode_accepts_little_endian_bytes_and_big_endian_arrays() -> None:
    pcm = np.array([0, 1000, -1000, 32767], dtype=np.int16)
    assert ulaw_encode(pcm.astype("<i2").tobytes()) == ulaw_encode(pcm)
    assert ulaw_encode(pcm.astype(">i2")) == ulaw_encode(pcm)
    assert alaw_encode(bytearray(pcm.tobytes())) == alaw_encode(pcm)


def test_empty_input() -> None:
    assert ulaw_encode(np.zeros(0, dtype=np.int16)) == b""
    assert ulaw_encode(b"") == b""
    assert ulaw_decode(b"").dtype == np.int16
    assert len(alaw_decode(b"")) == 0


@pytest.mark.parametrize("encode", [ulaw_encode, alaw_encode])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int8, np.uint16])
def test_encode_rejects_other_dtypes(encode, dtype) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match="int16"):
        encode(np.zeros(4, dtype=dtype))


def test_encode_error_messages_name_the_fix() -> None:
    with pytest.raises(TypeError, match=r"astype\(np.int16\)"):
        ulaw_encode(np.zeros(4, dtype=np.float32))
    with pytest.raises(ValueError, match="odd trailing byte"):
        ulaw_encode(b"\x00\x01\x02")
    with pytest.raises(ValueError, match="mono"):
        ulaw_encode(np.zeros((4, 2), dtype=np.int16))
    with pytest.raises(TypeError):
        ulaw_encode([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ulaw_decode("ff")  # type: ignore[arg-type]
