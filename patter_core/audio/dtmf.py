"""DTMF (touch-tone) generation, for carriers whose media streams cannot send DTMF events.

Each key is the sum of a low-group and a high-group sine (ITU-T Q.23), played for ``tone_ms`` with
``gap_ms`` of silence between keys, at -9 dBFS per tone (well inside Q.24 receiver limits).
"""

from __future__ import annotations

import numpy as np

from .pcm import PCM16

__all__ = ["DTMF_FREQUENCIES", "dtmf_tones"]

_LOW = (697, 770, 852, 941)
_HIGH = (1209, 1336, 1477, 1633)
_KEYS = ("123A", "456B", "789C", "*0#D")
_TONE_LEVEL = 10 ** (-9 / 20)  # each of the two tones at -9 dBFS

DTMF_FREQUENCIES: dict[str, tuple[int, int]] = {
    key: (_LOW[row], _HIGH[col]) for row, keys in enumerate(_KEYS) for col, key in enumerate(keys)
}


def dtmf_tones(digits: str, sample_rate: int = 8000, *, tone_ms: int = 100, gap_ms: int = 70) -> PCM16:
    """PCM16 audio of ``digits`` (0-9, *, #, A-D; ``w`` = 500 ms pause). Unknown keys raise ValueError."""
    if tone_ms <= 0 or gap_ms < 0:
        raise ValueError("tone_ms must be > 0 and gap_ms >= 0")
    tone_n = int(sample_rate * tone_ms / 1000)
    gap = np.zeros(int(sample_rate * gap_ms / 1000), dtype=np.float64)
    t = np.arange(tone_n) / sample_rate
    ramp = np.minimum(1.0, np.minimum(np.arange(tone_n), np.arange(tone_n)[::-1]) / (0.005 * sample_rate))
    parts: list[np.ndarray] = []
    for key in digits.upper():
        if key == "W":
            parts.append(np.zeros(int(sample_rate * 0.5)))
            continue
        if key not in DTMF_FREQUENCIES:
            raise ValueError(f"{key!r} is not a DTMF key: use 0-9, *, #, A-D (or w for a pause)")
        low, high = DTMF_FREQUENCIES[key]
        parts.append(_TONE_LEVEL * ramp * (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t)))
        parts.append(gap)
    if not parts:
        return np.zeros(0, dtype=np.int16)
    out: PCM16 = np.clip(np.concatenate(parts) * 32767, -32768, 32767).astype(np.int16)
    return out
