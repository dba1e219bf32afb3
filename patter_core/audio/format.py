"""A small description of an audio format: encoding, sample rate, channels.

Every boundary of a call (carrier wire, each provider) declares one; converters are built once per
call per direction from a pair of them, and formats that are equal pass bytes through untouched.
"""

from __future__ import annotations

import enum

import attrs

__all__ = [
    "ALAW_8K",
    "CANONICAL",
    "FRAME_MS",
    "L16_16K",
    "MULAW_8K",
    "PCM16_8K",
    "PCM16_16K",
    "PCM16_22K",
    "PCM16_24K",
    "PCM16_44K",
    "PCM16_48K",
    "AudioFormat",
    "Encoding",
]

#: The core's frame duration in milliseconds.
FRAME_MS = 20


class Encoding(enum.StrEnum):
    """Sample encodings the core understands."""

    PCM16 = "pcm16"
    """Signed 16-bit little-endian linear PCM."""
    PCM16_BE = "pcm16be"
    """Signed 16-bit big-endian (network order) linear PCM, as RTP's L16 carries it."""
    MULAW = "mulaw"
    """G.711 mu-law, one byte per sample."""
    ALAW = "alaw"
    """G.711 A-law, one byte per sample."""

    @property
    def sample_width(self) -> int:
        return 2 if self in (Encoding.PCM16, Encoding.PCM16_BE) else 1


@attrs.frozen(slots=True)
class AudioFormat:
    """Encoding + sample rate + channel count. Hashable; equal formats need no conversion."""

    encoding: Encoding = attrs.field(converter=Encoding)
    sample_rate: int = attrs.field()
    channels: int = 1

    @sample_rate.validator
    def _check_rate(self, _attribute: object, value: int) -> None:
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"sample_rate must be a positive int (Hz), got {value!r}")

    @property
    def sample_width(self) -> int:
        """Bytes per sample per channel."""
        return self.encoding.sample_width

    @property
    def bytes_per_second(self) -> int:
        return self.sample_rate * self.sample_width * self.channels

    def bytes_for_ms(self, ms: float) -> int:
        """Bytes holding ``ms`` milliseconds, rounded down to whole samples."""
        samples = int(self.sample_rate * ms / 1000)
        return samples * self.sample_width * self.channels

    def frame_bytes(self, ms: int = FRAME_MS) -> int:
        """Bytes of one frame of ``ms`` milliseconds (160 for mu-law 8 kHz at 20 ms)."""
        return self.bytes_for_ms(ms)

    def duration_ms(self, nbytes: int) -> float:
        """Milliseconds of audio in ``nbytes`` bytes."""
        return nbytes * 1000 / self.bytes_per_second

    @property
    def is_linear(self) -> bool:
        return self.encoding in (Encoding.PCM16, Encoding.PCM16_BE)

    def __str__(self) -> str:
        suffix = "" if self.channels == 1 else f"x{self.channels}"
        return f"{self.encoding.value}/{self.sample_rate}{suffix}"


MULAW_8K = AudioFormat(Encoding.MULAW, 8000)
ALAW_8K = AudioFormat(Encoding.ALAW, 8000)
PCM16_8K = AudioFormat(Encoding.PCM16, 8000)
PCM16_16K = AudioFormat(Encoding.PCM16, 16000)
PCM16_22K = AudioFormat(Encoding.PCM16, 22050)
PCM16_24K = AudioFormat(Encoding.PCM16, 24000)
PCM16_44K = AudioFormat(Encoding.PCM16, 44100)
PCM16_48K = AudioFormat(Encoding.PCM16, 48000)
L16_16K = AudioFormat(Encoding.PCM16_BE, 16000)

#: The core's canonical audio: PCM16 mono 16 kHz (in 20 ms frames).
CANONICAL = PCM16_16K
