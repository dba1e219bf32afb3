"""The L16 byte order, kept in one place, tested with a known waveform; and media_format parsing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from patter_telnyx import L16, PCMU, Telnyx
from patter_telnyx.codec import format_of_media_format, stream_codec
from patter_telnyx.testing import TelnyxCallerDialect

from patter_core.audio import L16_16K, MULAW_8K, PCM16_16K, Converter, ulaw_encode
from patter_core.audio.format import ALAW_8K, AudioFormat, Encoding
from patter_core.errors import ConfigurationError


def known_wave() -> np.ndarray:
    """A 440 Hz tone plus samples whose bytes are easy to read."""
    t = np.arange(320) / 16000
    wave = (np.sin(2 * np.pi * 440 * t) * 12000).astype(np.int16)
    wave[:4] = [0x0102, -2, 0x7FFF, -0x8000]
    return wave


def test_l16_is_big_endian_network_order() -> None:
    assert L16.format == L16_16K
    assert L16.format.encoding is Encoding.PCM16_BE and L16.sampling_rate == 16000
    wire = known_wave().astype(">i2").tobytes()
    assert wire[:8] == b"\x01\x02\xff\xfe\x7f\xff\x80\x00"  # most significant byte first


def test_l16_to_the_core_is_a_byte_swap_without_resampling() -> None:
    wave = known_wave()
    converter = Converter(L16.format, PCM16_16K)
    assert not converter.passthrough
    assert converter.convert(wave.astype(">i2").tobytes()) == wave.astype("<i2").tobytes()
    back = Converter(PCM16_16K, L16.format)
    assert back.convert(wave.astype("<i2").tobytes()) == wave.astype(">i2").tobytes()


def test_pcmu_is_mulaw_8k() -> None:
    assert PCMU.format == MULAW_8K and PCMU.sampling_rate == 8000


def test_the_carrier_wire_format_follows_the_codec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELNYX_API_KEY", "k")
    assert Telnyx().wire_format == L16_16K
    assert Telnyx(codec="pcmu").wire_format == MULAW_8K
    with pytest.raises(ConfigurationError, match="'L16', 'PCMU'"):
        Telnyx(codec="opus")


def test_codec_lookup() -> None:
    assert stream_codec(" l16 ") is L16
    with pytest.raises(ConfigurationError):
        stream_codec("G722")


@pytest.mark.parametrize(
    ("media_format", "expected"),
    [
        ({"encoding": "PCMU", "sample_rate": 8000, "channels": 1}, MULAW_8K),
        ({"encoding": "audio/x-mulaw", "sample_rate": 8000, "channels": 1}, MULAW_8K),
        ({"encoding": "PCMA", "sample_rate": 8000}, ALAW_8K),
        ({"encoding": "L16", "sample_rate": 16000, "channels": 1}, L16_16K),
        ({"encoding": "L16", "sample_rate": 8000}, AudioFormat(Encoding.PCM16_BE, 8000)),
        ({"encoding": "OPUS", "sample_rate": 16000}, None),
        ({"encoding": "PCMU", "sample_rate": 8000, "channels": 2}, None),
        ({"encoding": "PCMU", "sample_rate": "8000"}, None),
        ({"sample_rate": 8000}, None),
    ],
)
def test_media_format(media_format: dict[str, Any], expected: AudioFormat | None) -> None:
    assert format_of_media_format(media_format) == expected


def test_the_simulated_caller_sends_what_it_is_given() -> None:
    """The simulator's frames carry the wire bytes as-is (the caller encodes, the dialect only wraps)."""
    import base64
    import json

    dialect = TelnyxCallerDialect("v3:x", format=L16_16K, encoding="L16")
    payload = known_wave().astype(">i2").tobytes()
    frame = json.loads(dialect.media(payload, 0, 0))
    assert base64.b64decode(frame["media"]["payload"]) == payload
    assert ulaw_encode(known_wave()[:160])  # sanity: the mu-law path exists too
