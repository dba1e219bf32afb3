"""ElevenLabs format names map onto the core's AudioFormat constants, both ways."""

from __future__ import annotations

import pytest
from patter_elevenlabs import FORMATS, format_from_name, format_name

from patter_core.audio.format import ALAW_8K, L16_16K, MULAW_8K, PCM16_16K, PCM16_22K, PCM16_44K, AudioFormat
from patter_core.errors import ConfigurationError


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("ulaw_8000", MULAW_8K),
        ("alaw_8000", ALAW_8K),
        ("pcm_16000", PCM16_16K),
        ("pcm_22050", PCM16_22K),
        ("pcm_44100", PCM16_44K),
    ],
)
def test_round_trip(name: str, fmt: AudioFormat) -> None:
    assert format_from_name(name) == fmt
    assert format_name(fmt) == name


@pytest.mark.parametrize("name", ["mp3_44100_128", "opus_48000_64", "pcm_11025", "", None, 8000])
def test_unusable_formats_name_the_fix(name: object) -> None:
    with pytest.raises(ConfigurationError, match="ulaw_8000"):
        format_from_name(name)


def test_big_endian_l16_is_not_an_elevenlabs_format() -> None:
    assert L16_16K not in FORMATS.values()
    with pytest.raises(ConfigurationError, match="cannot produce"):
        format_name(L16_16K)
