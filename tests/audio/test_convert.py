"""Format conversion: passthrough, byte swap, G.711 transcoding, resampling chains, odd-byte carry."""

from __future__ import annotations

import numpy as np
import pytest

from patter_core.audio import (
    ALAW_8K,
    CANONICAL,
    L16_16K,
    MULAW_8K,
    PCM16_8K,
    PCM16_16K,
    PCM16_24K,
    AudioFormat,
    Converter,
    Encoding,
    Resampler,
    from_pcm16,
    pcm16_from_bytes,
    pcm16_to_bytes,
    to_pcm16,
    ulaw_decode,
    ulaw_encode,
)
from patter_core.audio.analysis import sine


def test_equal_formats_pass_the_same_object_through() -> None:
    conv = Converter(MULAW_8K, MULAW_8K)
    assert conv.passthrough
    chunk = b"\xff" * 161
    assert conv.convert(chunk) is chunk
    assert conv.flush() == b""
    assert Converter(CANONICAL, PCM16_16K).passthrough


def test_l16_to_pcm16_is_a_byte_swap() -> None:
    pcm = np.array([1, -2, 300, -32768, 32767], dtype=np.int16)
    conv = Converter(L16_16K, PCM16_16K)
    assert not conv.passthrough
    assert conv.convert(pcm.astype(">i2").tobytes()) == pcm.astype("<i2").tobytes()
    back = Converter(PCM16_16K, L16_16K)
    assert back.convert(pcm.tobytes()) == pcm.astype(">i2").tobytes()


def test_odd_bytes_are_carried_to_the_next_chunk() -> None:
    pcm = sine(440, 16000, 0.1)
    data = pcm.astype(">i2").tobytes()
    conv = Converter(L16_16K, PCM16_16K)
    out = b"".join(conv.convert(data[i : i + 33]) for i in range(0, len(data), 33))
    assert out == pcm.tobytes()


def test_odd_bytes_with_resampling_match_whole_frames() -> None:
    pcm = sine(440, 24000, 0.2)
    data = pcm.tobytes()
    whole = Converter(PCM16_24K, MULAW_8K)
    ref = b"".join(whole.convert(data[i : i + 960]) for i in range(0, len(data), 960))
    odd = Converter(PCM16_24K, MULAW_8K)
    got = b"".join(odd.convert(data[i : i + 77]) for i in range(0, len(data), 77))
    assert got == ref
    assert len(got) == len(pcm) // 3


def test_mulaw_to_canonical_and_back() -> None:
    tone = sine(1000, 8000, 0.4, amplitude=10000)
    wire = ulaw_encode(tone)
    inbound = Converter(MULAW_8K, CANONICAL)
    pcm16k = b"".join(inbound.convert(wire[i : i + 160]) for i in range(0, len(wire), 160))
    assert len(pcm16k) == 2 * 2 * len(wire)  # 16 kHz, 2 bytes per sample
    outbound = Converter(CANONICAL, MULAW_8K)
    back = b"".join(outbound.convert(pcm16k[i : i + 640]) for i in range(0, len(pcm16k), 640))
    assert len(back) == len(wire)
    # same tone after two resamplings (delayed by both filters) and two quantisations
    delay = (Resampler(8000, 16000).delay_ms + Resampler(16000, 8000).delay_ms) * 8  # in 8 kHz samples
    n = np.arange(len(wire))
    ideal = 10000 * np.sin(2 * np.pi * 1000 * (n - delay) / 8000 + 0.3)
    got = ulaw_decode(back).astype(float)
    a, b = got[100:-100], ideal[100:-100]
    snr = 10 * np.log10(np.sum(b**2) / np.sum((a - b) ** 2))
    assert snr > 33  # G.711 twice is ~35 dB: the resamplers add nothing audible


def test_g711_transcoding_at_same_rate() -> None:
    wire = ulaw_encode(sine(300, 8000, 0.05))
    alaw = Converter(MULAW_8K, ALAW_8K).convert(wire)
    assert len(alaw) == len(wire)
    assert Converter(ALAW_8K, MULAW_8K).convert(alaw)[:10] != b""


def test_flush_returns_the_filter_tail_encoded() -> None:
    conv = Converter(PCM16_8K, PCM16_16K)
    conv.convert(sine(440, 8000, 0.1).tobytes() + b"\x01")  # dangling half sample is dropped
    tail = conv.flush()
    assert len(tail) % 2 == 0 and len(tail) > 0
    assert conv.flush() == b""


def test_reset_forgets_the_carry() -> None:
    conv = Converter(PCM16_16K, L16_16K)
    conv.convert(b"\x01")
    conv.reset()
    assert conv.convert(b"\x01\x02") == b"\x02\x01"


def test_to_pcm16_and_from_pcm16() -> None:
    pcm = np.array([0, 5, -5, 1234], dtype=np.int16)
    assert to_pcm16(pcm.tobytes(), PCM16_16K).tolist() == pcm.tolist()
    assert to_pcm16(pcm.astype(">i2").tobytes(), L16_16K).tolist() == pcm.tolist()
    assert to_pcm16(b"\xff\x7f", MULAW_8K).tolist() == [0, 0]
    assert to_pcm16(b"\xd5", ALAW_8K).tolist() == [8]
    for fmt in (PCM16_16K, L16_16K, MULAW_8K, ALAW_8K):
        assert to_pcm16(b"", fmt).dtype == np.int16
        assert len(to_pcm16(from_pcm16(pcm, fmt), fmt)) == len(pcm)
    with pytest.raises(ValueError, match="odd trailing byte"):
        to_pcm16(b"\x00\x00\x00", L16_16K)


def test_pcm16_bytes_helpers() -> None:
    data = np.array([1, -1, 256], dtype=np.int16).tobytes()
    view = pcm16_from_bytes(data)
    assert view.tolist() == [1, -1, 256]
    assert not view.flags.writeable  # zero-copy view of immutable bytes
    assert pcm16_to_bytes(view) == data
    with pytest.raises(ValueError, match="odd"):
        pcm16_from_bytes(b"\x00")
    with pytest.raises(TypeError, match="int16"):
        pcm16_to_bytes(np.zeros(2))


def test_bad_formats_and_inputs_are_rejected() -> None:
    stereo = AudioFormat(Encoding.PCM16, 16000, channels=2)
    with pytest.raises(ValueError, match="mono"):
        Converter(stereo, PCM16_16K)
    with pytest.raises(ValueError, match="mono"):
        to_pcm16(b"\x00" * 4, stereo)
    with pytest.raises(TypeError, match="AudioFormat"):
        Converter("pcm16", PCM16_16K)  # type: ignore[arg-type]
    conv = Converter(MULAW_8K, PCM16_16K)
    with pytest.raises(TypeError, match="bytes"):
        conv.convert("abc")  # type: ignore[arg-type]
    assert conv.convert(b"") == b""
