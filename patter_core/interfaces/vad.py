"""Voice-activity detection: PCM frames in, speech start / end out.

A :class:`VAD` is configuration shared by calls; :meth:`VAD.create_stream` makes the per-call,
stateful detector. ``process`` is synchronous because it must be cheap (well under a millisecond per
20 ms frame): the session calls it on the event loop for every caller frame, in pipeline mode for
turn-taking and barge-in.
"""

from __future__ import annotations

import abc
import enum

import attrs
import numpy as np
import numpy.typing as npt

__all__ = ["VAD", "VADCapabilities", "VADEvent", "VADEventType", "VADStream"]


class VADEventType(enum.StrEnum):
    SPEECH_START = "speech_start"
    SPEECH_END = "speech_end"


@attrs.frozen(slots=True)
class VADEvent:
    """A change of state. ``at_ms`` is on the stream's own clock (ms of audio processed so far)."""

    type: VADEventType
    at_ms: float
    speech_ms: float = 0.0
    """For ``SPEECH_END``: how long the speech run lasted (ms)."""


@attrs.frozen(slots=True)
class VADCapabilities:
    sample_rates: tuple[int, ...] = (8000, 16000)
    """Rates the detector accepts directly; the session feeds one of these."""


class VADStream(abc.ABC):
    """Per-call detector state."""

    @abc.abstractmethod
    def process(self, pcm: npt.NDArray[np.int16]) -> list[VADEvent]:
        """Feed PCM16 mono samples (any length) and return the state changes they caused, in order."""

    @property
    @abc.abstractmethod
    def speaking(self) -> bool:
        """Whether the detector currently considers the caller to be speaking."""

    @property
    @abc.abstractmethod
    def speech_ms(self) -> float:
        """Length of the current speech run in ms (0 when not speaking).

        Barge-in compares this with ``barge_in_threshold_ms``.
        """

    def reset(self) -> None:  # noqa: B027 - optional hook
        """Forget any state (after a barge-in, when the caller's turn restarts)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (model sessions)."""


class VAD(abc.ABC):
    """A voice-activity detector provider (shared configuration; streams are per call)."""

    capabilities: VADCapabilities = VADCapabilities()

    @abc.abstractmethod
    def create_stream(self, sample_rate: int) -> VADStream:
        """A new, independent detector for one call at ``sample_rate`` (one of the capabilities)."""
