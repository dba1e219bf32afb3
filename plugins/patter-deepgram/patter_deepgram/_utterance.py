"""Deepgram ``Results`` / ``UtteranceEnd`` onto Patter transcripts, with exactly one end of utterance.

Deepgram's end-of-turn signals overlap (PROTOCOLS.md 5.3): the last ``is_final`` piece may carry
``speech_final``, or an empty ``speech_final`` twin may follow it; a ``Finalize`` answers with a
``from_finalize`` result; ``UtteranceEnd`` may arrive after all of those, or alone (noisy audio). The
reference SDK turned such pairs into two caller turns. Here each final piece is emitted once as
``Transcript(final=True)`` (the session concatenates them) and the first of those signals that finds
final text not yet closed emits ``end_of_utterance=True``; the others find nothing open and say
nothing. Empty transcripts never become events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from patter_core.interfaces.stt import Transcript

__all__ = ["UtteranceAssembler"]


class UtteranceAssembler:
    """Per-stream state: whether final text has been emitted since the last end of utterance."""

    def __init__(self) -> None:
        self.open = False

    def results(self, message: Mapping[str, Any]) -> list[Transcript]:
        """Events for one ``Results`` message; ``KeyError``/``TypeError``/``IndexError`` if malformed."""
        alternatives = message["channel"]["alternatives"]
        best: Mapping[str, Any] = alternatives[0] if alternatives else {}
        if not isinstance(best, Mapping):
            raise TypeError("channel.alternatives[0] is not an object")
        text = best.get("transcript") or ""
        if not isinstance(text, str):
            raise TypeError("transcript is not a string")
        text = text.strip()
        confidence = best.get("confidence")
        confidence = float(confidence) if isinstance(confidence, int | float) and text else None
        languages = best.get("languages")
        language = (
            languages[0]
            if isinstance(languages, list) and languages and isinstance(languages[0], str)
            else None
        )
        ends = bool(message.get("speech_final")) or bool(message.get("from_finalize"))
        final = bool(message.get("is_final")) or ends
        if not final:
            return [Transcript(text, final=False, confidence=confidence, language=language)] if text else []
        if text:
            self.open = not ends
            return [
                Transcript(text, final=True, end_of_utterance=ends, confidence=confidence, language=language)
            ]
        return self._close() if ends else []

    def utterance_end(self) -> list[Transcript]:
        """Events for ``UtteranceEnd``: closes the utterance if final text is still open."""
        return self._close()

    def _close(self) -> list[Transcript]:
        if not self.open:
            return []
        self.open = False
        return [Transcript("", final=True, end_of_utterance=True)]
