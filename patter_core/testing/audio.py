"""Synthetic test audio: voiced bursts an energy VAD hears as speech, and silence, in any format."""

from __future__ import annotations

import numpy as np

from patter_core.audio import from_pcm16
from patter_core.audio.format import AudioFormat

__all__ = ["silence", "voice", "voice_pcm"]


def voice_pcm(
    ms: float, sample_rate: int = 16000, *, pitch_hz: float = 180.0, level: float = 0.3
) -> np.ndarray:
    """A vowel-like sound: harmonics of ``pitch_hz`` with a 4 Hz syllable envelope (never fully silent)."""
    n = int(sample_rate * ms / 1000)
    t = np.arange(n) / sample_rate
    wave = np.zeros(n)
    for k, amp in ((1, 1.0), (2, 0.6), (3, 0.4), (5, 0.2)):
        if pitch_hz * k < sample_rate / 2:
            wave += amp * np.sin(2 * np.pi * pitch_hz * k * t)
    envelope = 0.75 + 0.25 * np.sin(2 * np.pi * 4 * t)
    wave *= envelope / np.max(np.abs(wave) + 1e-9)
    return (wave * level * 32767).astype(np.int16)


def voice(ms: float, fmt: AudioFormat, **kwargs: float) -> bytes:
    """:func:`voice_pcm` encoded in ``fmt``."""
    return from_pcm16(voice_pcm(ms, fmt.sample_rate, **kwargs), fmt)


def silence(ms: float, fmt: AudioFormat) -> bytes:
    return from_pcm16(np.zeros(int(fmt.sample_rate * ms / 1000), dtype=np.int16), fmt)
