"""A dependency-free energy voice-activity detector with hysteresis and an adaptive noise floor.

Good enough for turn-taking and barge-in on telephone audio when no model-based VAD is installed; a
model-based VAD is more robust to loud non-speech noise. Per window (10 ms by default) it
computes the RMS level in dBFS (0 dBFS = a full-scale square wave; a full-scale sine is -3 dBFS):

* speech starts when the level stays at or above the *on* threshold for ``start_ms`` (the run begins
  with a window at or above *on* and continues while windows stay at or above *off*);
* speech ends after ``end_ms`` of windows below the *off* threshold;
* *on* = ``max(threshold_db, noise_floor + noise_margin_db)``, *off* = *on* - ``hysteresis_db``.

The noise floor is estimated by minimum statistics: the quietest window of the last
``noise_window_s`` seconds (tracked in 8 sub-blocks, so the cost is O(1) per window). Speech always
has quiet gaps between syllables, so the minimum follows the background, not the talker; in a quiet
line the fixed ``threshold_db`` rules. Events carry the time the change happened in the audio (the
onset of the run, the start of the final silence), not the later time it was detected.
"""

from __future__ import annotations

import math

import numpy as np

from ..interfaces.vad import VAD, VADCapabilities, VADEvent, VADEventType, VADStream
from .pcm import PCM16, as_pcm16

__all__ = ["EnergyVAD", "EnergyVADStream"]

_FULL_SCALE_SQ = 32768.0 * 32768.0
_BLOCKS = 8


class EnergyVAD(VAD):
    """Energy-based :class:`~patter_core.interfaces.vad.VAD` (configuration shared by calls)."""

    capabilities = VADCapabilities(sample_rates=(8000, 16000, 24000, 48000))

    def __init__(
        self,
        threshold_db: float = -35.0,
        start_ms: int = 60,
        end_ms: int = 500,
        *,
        hysteresis_db: float = 6.0,
        window_ms: int = 10,
        adaptive: bool = True,
        noise_margin_db: float = 10.0,
        noise_window_s: float = 3.0,
    ) -> None:
        if not -100.0 < threshold_db < 0.0:
            raise ValueError(f"threshold_db is dBFS RMS and must be in (-100, 0), got {threshold_db!r}")
        if window_ms <= 0 or start_ms < 0 or end_ms < 0:
            raise ValueError("window_ms must be > 0 and start_ms / end_ms >= 0")
        if hysteresis_db < 0 or noise_margin_db < 0 or noise_window_s <= 0:
            raise ValueError("hysteresis_db and noise_margin_db must be >= 0, noise_window_s > 0")
        self.threshold_db = float(threshold_db)
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.hysteresis_db = float(hysteresis_db)
        self.window_ms = window_ms
        self.adaptive = adaptive
        self.noise_margin_db = float(noise_margin_db)
        self.noise_window_s = float(noise_window_s)

    def create_stream(self, sample_rate: int) -> EnergyVADStream:
        return EnergyVADStream(self, sample_rate)


class EnergyVADStream(VADStream):
    """Per-call state of an :class:`EnergyVAD`."""

    def __init__(self, config: EnergyVAD, sample_rate: int) -> None:
        if not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive int in Hz, got {sample_rate!r}")
        self._cfg = config
        self.sample_rate = sample_rate
        self._win = max(1, round(sample_rate * config.window_ms / 1000))
        self._win_ms = self._win * 1000 / sample_rate
        self._pending = np.zeros(0, dtype=np.int16)
        self._clock_ms = 0.0
        # noise floor: minimum level per sub-block over the last noise_window_s
        self._block_windows = max(1, round(config.noise_window_s * 1000 / self._win_ms / _BLOCKS))
        self._block_mins: list[float] = []
        self._block_min = math.inf
        self._block_count = 0
        self._reset_speech()

    def _reset_speech(self) -> None:
        self._speaking = False
        self._run_start: float | None = None  # candidate onset (not yet speaking)
        self._onset = 0.0
        self._silence_start: float | None = None

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def speech_ms(self) -> float:
        return self._clock_ms - self._onset if self._speaking else 0.0

    @property
    def noise_floor_db(self) -> float:
        """Current noise-floor estimate in dBFS (-inf until enough audio has been seen)."""
        if not self._cfg.adaptive or len(self._block_mins) < _BLOCKS // 2:
            return -math.inf
        return min(self._block_mins)

    def thresholds(self) -> tuple[float, float]:
        """The (on, off) thresholds in dBFS currently in force."""
        on = max(self._cfg.threshold_db, self.noise_floor_db + self._cfg.noise_margin_db)
        return on, on - self._cfg.hysteresis_db

    def reset(self) -> None:
        """Forget the speech state and buffered samples (the noise floor and clock are kept)."""
        self._pending = np.zeros(0, dtype=np.int16)
        self._reset_speech()

    def process(self, pcm: PCM16) -> list[VADEvent]:
        x = as_pcm16(pcm, what="VAD input")
        if len(self._pending):
            x = np.concatenate((self._pending, x))
        n = len(x) // self._win
        self._pending = x[n * self._win :].copy()
        if n == 0:
            return []
        frames = x[: n * self._win].reshape(n, self._win).astype(np.float32)
        power = np.einsum("ij,ij->i", frames, frames) / (self._win * _FULL_SCALE_SQ)
        levels = 10.0 * np.log10(power + 1e-12)
        events: list[VADEvent] = []
        for level in levels.tolist():
            self._step(level, events)
        return events

    def _step(self, level: float, events: list[VADEvent]) -> None:
        cfg = self._cfg
        on, off = self.thresholds()
        start = self._clock_ms
        self._clock_ms += self._win_ms
        now = self._clock_ms
        if not self._speaking:
            if self._run_start is None:
                if level >= on:
                    self._run_start = start
            elif level < off:
                self._run_start = None
            if self._run_start is not None and now - self._run_start >= cfg.start_ms:
                self._speaking = True
                self._onset = self._run_start
                self._run_start = None
                self._silence_start = None
                events.append(VADEvent(VADEventType.SPEECH_START, self._onset))
        elif level >= off:
            self._silence_start = None
        else:
            if self._silence_start is None:
                self._silence_start = start
            if now - self._silence_start >= cfg.end_ms:
                end = self._silence_start
                events.append(VADEvent(VADEventType.SPEECH_END, end, speech_ms=end - self._onset))
                self._reset_speech()
        if cfg.adaptive:
            self._track_floor(level)

    def _track_floor(self, level: float) -> None:
        self._block_min = min(self._block_min, level)
        self._block_count += 1
        if self._block_count >= self._block_windows:
            self._block_mins.append(self._block_min)
            if len(self._block_mins) > _BLOCKS:
                del self._block_mins[0]
            self._block_min = math.inf
            self._block_count = 0
