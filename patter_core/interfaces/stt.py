"""Speech-to-text: a per-call stream of caller audio in, interim and final transcripts out.

Two shapes of provider fit behind this one interface:

* streaming recognisers (a WebSocket per call) push audio as it arrives and emit interim and final
  transcripts, deciding end-of-utterance themselves (``endpointing`` capability);
* batch recognisers transcribe a whole utterance; :class:`patter_core.session.stt_buffer.BufferedSTT`
  turns one into a stream by collecting the audio between the local VAD's speech start and end.

The session calls :meth:`STTStream.end_of_speech` when its VAD decides the caller stopped, so a
streaming provider can finalize at once instead of waiting for its own endpointing.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator

import attrs

from patter_core.audio.format import PCM16_16K, AudioFormat

__all__ = ["STT", "STTCapabilities", "STTConfig", "STTEvent", "STTSpeechStarted", "STTStream", "Transcript"]


@attrs.frozen(slots=True)
class STTCapabilities:
    input_formats: tuple[AudioFormat, ...] = (PCM16_16K,)
    """Formats accepted as-is, by preference. The session sends the carrier's wire format untouched
    when it is listed, else converts once to the first entry."""
    streaming: bool = True
    interim_results: bool = False
    endpointing: bool = False
    """The provider itself marks the end of an utterance (``Transcript.end_of_utterance``)."""
    speech_events: bool = False
    """The provider emits :class:`STTSpeechStarted` (usable for barge-in)."""


@attrs.frozen(slots=True)
class STTConfig:
    format: AudioFormat
    language: str | None = None


@attrs.frozen(slots=True)
class Transcript:
    """Recognised text. ``final`` texts of one utterance are concatenated by the session; an event with
    ``end_of_utterance`` closes the caller's turn (it may carry text or be empty)."""

    text: str
    final: bool = True
    end_of_utterance: bool = False
    confidence: float | None = None
    language: str | None = None


@attrs.frozen(slots=True)
class STTSpeechStarted:
    """The provider heard the caller start speaking."""


STTEvent = Transcript | STTSpeechStarted


class STTStream(abc.ABC):
    """One call's recognition stream."""

    @abc.abstractmethod
    async def push_audio(self, audio: bytes) -> None:
        """Send caller audio in the stream's :attr:`STTConfig.format`. Never blocks the loop for long."""

    async def end_of_speech(self) -> None:  # noqa: B027 - optional hook
        """The local VAD decided the caller stopped talking: finalize what was heard now."""

    async def start_of_speech(self) -> None:  # noqa: B027 - optional hook
        """The local VAD heard speech begin (batch recognisers start buffering here)."""

    @abc.abstractmethod
    def events(self) -> AsyncIterator[STTEvent]:
        """Transcripts and speech events until the stream closes. Iterated by exactly one task."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Finish and release the connection; idempotent."""


class STT(abc.ABC):
    """A speech-to-text provider (shared configuration; streams are per call)."""

    capabilities: STTCapabilities = STTCapabilities()

    @abc.abstractmethod
    async def open_stream(self, config: STTConfig) -> STTStream:
        """Open a recognition stream for one call; ``config.format`` is one of the capabilities'."""
