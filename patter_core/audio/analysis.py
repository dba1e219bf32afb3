"""Measure a streaming audio path: passband gain, alias/image rejection, added delay.

Used by the test-suite and ``bench/audio.py`` (one implementation of the metrics for both), and handy
to qualify any resampler: wrap it as a factory of objects with ``process(int16 array) -> int16 array``.
All signals are synthetic and every measurement is deterministic (no wall clock).

Definitions (all relative to the input tone's amplitude ``A``):

* gain: amplitude of the tone in the output, fitted by least squares at its exact frequency;
* spurious level: RMS of everything else in the output (aliases, images, rounding noise) over the RMS
  of the input tone; for a tone above the output's Nyquist the whole output is spurious. With int16
  input and output the floor is about -94 dB (both quantisations);
* added delay: *content shift* (the step response's 50% crossing in the output minus the band-limited
  step's crossing at the input, i.e. the filter's group delay) plus *release lag* (the most the output
  stream ever fell behind real time when fed whole frames, i.e. audio held back in buffers).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import attrs
import numpy as np
import numpy.typing as npt

from .pcm import PCM16

__all__ = [
    "DelayResult",
    "PathQuality",
    "StreamProcessor",
    "band_edges",
    "measure_delay",
    "measure_quality",
    "sine",
    "tone_response",
]


class StreamProcessor(Protocol):
    def process(self, pcm: PCM16, /) -> PCM16: ...


Factory = Callable[[], StreamProcessor]


def band_edges(src_rate: int, dst_rate: int) -> tuple[float, float]:
    """(passband edge, stopband edge) in Hz that a telephone-grade path between the rates must meet.

    3.4 / 4.6 kHz when the lower rate is 8 kHz, 7 / 9 kHz when it is 16 kHz, otherwise 0.4375 / 0.5625
    of the lower rate (the :class:`~patter_core.audio.resample.Resampler`'s design edges).
    """
    fmin = min(src_rate, dst_rate)
    if fmin == 8000:
        return 3400.0, 4600.0
    if fmin == 16000:
        return 7000.0, 9000.0
    return 0.4375 * fmin, 0.5625 * fmin


def sine(freq: float, rate: int, seconds: float, amplitude: float = 29000.0, phase: float = 0.3) -> PCM16:
    """A rounded int16 sine."""
    t = np.arange(round(rate * seconds)) / rate
    return np.round(amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.int16)


def _run(make: Factory, x: PCM16, frame: int) -> tuple[npt.NDArray[np.float64], list[int]]:
    proc = make()
    outs: list[PCM16] = []
    counts: list[int] = []
    total = 0
    for i in range(0, len(x), frame):
        y = np.asarray(proc.process(x[i : i + frame]))
        outs.append(y)
        total += len(y)
        counts.append(total)
    out = np.concatenate(outs).astype(np.float64) if outs else np.zeros(0)
    return out, counts


def tone_response(
    make: Factory,
    src_rate: int,
    dst_rate: int,
    freq: float,
    *,
    amplitude: float = 29000.0,
    seconds: float = 0.5,
    frame_ms: int = 20,
) -> tuple[float, float]:
    """Feed a tone in ``frame_ms`` frames; return (gain dB, spurious dB) of the steady-state output.

    Gain is ``-inf`` for a tone at or above the output's Nyquist frequency (it must vanish).
    """
    x = sine(freq, src_rate, seconds + 0.1, amplitude)
    y, _ = _run(make, x, src_rate * frame_ms // 1000)
    skip = round(0.05 * dst_rate)  # start-up transient and any held-back output
    y = y[skip : skip + round(seconds * dst_rate) - skip]
    if len(y) < dst_rate // 100:
        raise ValueError("the path returned too little output to measure")
    ref_rms = amplitude / math.sqrt(2)
    if freq >= dst_rate / 2:
        return -math.inf, _db(float(np.sqrt(np.mean(y * y))) / ref_rms)
    n = np.arange(len(y))
    # The output sample k sits at time (k + skip) / dst; any constant delay is absorbed by the fit.
    w = 2 * np.pi * freq / dst_rate * n
    basis = np.stack([np.sin(w), np.cos(w), np.ones_like(w)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    resid = y - basis @ coef
    gain = math.hypot(coef[0], coef[1]) / amplitude
    return _db(gain), _db(float(np.sqrt(np.mean(resid * resid))) / ref_rms)


def _db(ratio: float) -> float:
    return 20 * math.log10(ratio) if ratio > 0 else -math.inf


@attrs.frozen
class PathQuality:
    """Worst cases over a sweep of tones."""

    rejection_db: float  # smallest attenuation of aliases/images (higher is better)
    passband_min_db: float
    passband_max_db: float
    worst_tone_hz: float  # the tone that gave rejection_db

    @property
    def passband_dev_db(self) -> float:
        return max(abs(self.passband_min_db), abs(self.passband_max_db))


def measure_quality(
    make: Factory, src_rate: int, dst_rate: int, *, tones: int = 9, seconds: float = 0.5
) -> PathQuality:
    """Sweep tones through the path: passband tones (gain + images) and, when the path decimates,
    tones beyond the stopband edge (which must vanish)."""
    pass_hz, stop_hz = band_edges(src_rate, dst_rate)
    sweep: list[float] = list(np.linspace(100.0, pass_hz, tones))
    if src_rate / 2 > stop_hz:
        sweep += list(np.linspace(stop_hz, src_rate / 2 * 0.97, tones))
    gains: list[float] = []
    worst, worst_f = -math.inf, 0.0
    for f in sweep:
        gain, spur = tone_response(make, src_rate, dst_rate, float(f), seconds=seconds)
        if f <= pass_hz:
            gains.append(gain)
        if spur > worst:
            worst, worst_f = spur, float(f)
    return PathQuality(-worst, min(gains), max(gains), worst_f)


@attrs.frozen
class DelayResult:
    shift_ms: float  # content shift of the step (group delay)
    lag_ms: float  # most output ever held back behind real time
    first_output_ms: float  # input fed (whole frames) when the first output sample came out

    @property
    def added_ms(self) -> float:
        return self.shift_ms + self.lag_ms


def measure_delay(make: Factory, src_rate: int, dst_rate: int, *, frame_ms: int = 20) -> DelayResult:
    """Added delay of a path fed ``frame_ms`` frames (see the module docstring)."""
    frame = src_rate * frame_ms // 1000
    i0 = 5 * frame + frame // 3  # a step in the middle of the 6th frame
    x = np.zeros(20 * frame, dtype=np.int16)
    x[i0:] = 16000
    y, counts = _run(make, x, frame)
    above = np.flatnonzero(y >= 8000)
    if len(above) == 0 or above[0] == 0:
        raise ValueError("no step found in the output")
    n = int(above[0])
    crossing = n - 1 + (8000 - y[n - 1]) / (y[n] - y[n - 1])
    shift = (crossing / dst_rate - (i0 - 0.5) / src_rate) * 1000
    per_frame = dst_rate * frame_ms / 1000
    behind = [(k + 1) * per_frame - c for k, c in enumerate(counts)]
    lag = max(0.0, *behind) / dst_rate * 1000
    first = next((k for k, c in enumerate(counts) if c > 0), len(counts))
    return DelayResult(shift, lag, (first + 1) * frame_ms)
