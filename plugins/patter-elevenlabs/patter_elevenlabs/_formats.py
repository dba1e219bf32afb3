"""ElevenLabs audio format names <-> :class:`~patter_core.audio.format.AudioFormat`.

ElevenLabs names raw formats ``<codec>_<rate>``: ``ulaw_8000`` is headerless G.711 mu-law (what
Twilio and Telnyx PCMU carry, so it passes through untouched), ``pcm_<rate>`` is headerless signed
16-bit little-endian mono. Compressed formats (``mp3_*``, ``opus_*``) cannot be streamed onto a phone
call without a decoder, so they are rejected with an error that says what to configure instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from patter_core.audio.format import (
    ALAW_8K,
    MULAW_8K,
    PCM16_8K,
    PCM16_16K,
    PCM16_22K,
    PCM16_24K,
    PCM16_44K,
    PCM16_48K,
    AudioFormat,
)
from patter_core.errors import ConfigurationError

__all__ = ["FORMATS", "format_from_name", "format_name"]

#: Every raw format ElevenLabs produces or accepts, by its wire name.
FORMATS: Mapping[str, AudioFormat] = {
    "ulaw_8000": MULAW_8K,
    "alaw_8000": ALAW_8K,
    "pcm_8000": PCM16_8K,
    "pcm_16000": PCM16_16K,
    "pcm_22050": PCM16_22K,
    "pcm_24000": PCM16_24K,
    "pcm_44100": PCM16_44K,
    "pcm_48000": PCM16_48K,
}
_NAMES: Mapping[AudioFormat, str] = {fmt: name for name, fmt in FORMATS.items()}


def format_from_name(name: object, *, what: str = "audio format") -> AudioFormat:
    """The :class:`AudioFormat` of an ElevenLabs format name; a clear error for anything else."""
    fmt = FORMATS.get(name) if isinstance(name, str) else None
    if fmt is None:
        raise ConfigurationError(
            f"ElevenLabs {what} {name!r} cannot be used on a phone call: configure the agent (ElevenLabs "
            f"dashboard > agent > Voice / Advanced) to use 'ulaw_8000' (best for Twilio and Telnyx PCMU: no "
            f"transcoding) or one of {', '.join(sorted(FORMATS))}"
        )
    return fmt


def format_name(fmt: AudioFormat) -> str:
    """The ElevenLabs wire name of ``fmt`` (``ulaw_8000``, ``pcm_16000`` ...)."""
    try:
        return _NAMES[fmt]
    except KeyError:
        raise ConfigurationError(
            f"ElevenLabs cannot produce {fmt}; supported formats: {', '.join(sorted(FORMATS))}"
        ) from None
