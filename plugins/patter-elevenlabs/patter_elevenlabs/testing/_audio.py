"""Test audio for the fakes: tones in any format ElevenLabs produces, encoded by the core's codecs."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from patter_core.audio import from_pcm16
from patter_core.audio.format import AudioFormat

__all__ = ["encode_pcm16", "tone"]


def tone(fmt: AudioFormat, ms: float, *, frequency: float = 440.0, amplitude: float = 0.3) -> bytes:
    """``ms`` milliseconds of a sine tone in ``fmt`` (whole samples)."""
    count = int(fmt.sample_rate * ms / 1000)
    t = np.arange(count) / fmt.sample_rate
    samples = (np.sin(2 * np.pi * frequency * t) * amplitude * 32767).astype(np.int16)
    return encode_pcm16(samples, fmt)


def encode_pcm16(samples: npt.NDArray[np.int16], fmt: AudioFormat) -> bytes:
    """Mono int16 samples (already at ``fmt.sample_rate``) encoded as ``fmt``."""
    return from_pcm16(samples, fmt)
