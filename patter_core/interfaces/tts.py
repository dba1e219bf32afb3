"""Text-to-speech: text in, audio out as soon as it is synthesised.

The pipeline speaks a reply sentence by sentence: it calls :meth:`TTSSession.synthesize` once per
sentence (the next one may be requested while the previous plays) and forwards each audio chunk as it
arrives. Closing the iterator (barge-in) must cancel that synthesis.

A :class:`TTS` is configuration shared between calls. :meth:`TTS.open_session` makes the per-call
object; stateless HTTP providers only implement :meth:`TTS.synthesize` and get a session for free,
while providers that keep a connection per call (a WebSocket) override :meth:`TTS.open_session`.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator

import attrs

from patter_core.audio.format import PCM16_16K, AudioFormat

__all__ = ["TTS", "TTSCapabilities", "TTSSession"]


@attrs.frozen(slots=True)
class TTSCapabilities:
    output_formats: tuple[AudioFormat, ...] = (PCM16_16K,)
    """Formats the provider can produce natively, by preference. The session asks for the carrier's
    wire format when it is listed (no transcoding), else for the first entry and converts once."""
    streaming: bool = True
    """Audio is yielded while synthesis is still running."""


class TTSSession(abc.ABC):
    """One call's synthesis context."""

    format: AudioFormat

    @abc.abstractmethod
    def synthesize(self, text: str) -> AsyncIterator[bytes]:
        """Audio of ``text`` in :attr:`format`, chunk by chunk (chunks may have any length, even odd)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release the call's connection; idempotent."""


class TTS(abc.ABC):  # noqa: B024 - implement synthesize() or open_session(), either one
    """A text-to-speech provider."""

    capabilities: TTSCapabilities = TTSCapabilities()

    def synthesize(self, text: str, format: AudioFormat) -> AsyncIterator[bytes]:
        """Stateless synthesis of one piece of text; override this *or* :meth:`open_session`."""
        raise NotImplementedError(f"{type(self).__name__} must implement synthesize() or open_session()")

    async def open_session(self, format: AudioFormat) -> TTSSession:
        """A per-call session producing ``format`` (one of :attr:`TTSCapabilities.output_formats`)."""
        return _StatelessSession(self, format)

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release shared resources when the application stops."""


class _StatelessSession(TTSSession):
    def __init__(self, tts: TTS, format: AudioFormat) -> None:
        self._tts = tts
        self.format = format

    def synthesize(self, text: str) -> AsyncIterator[bytes]:
        return self._tts.synthesize(text, self.format)
