"""Bookkeeping of one spoken reply: which sentence became which audio segment, and what was heard.

After a barge-in the conversation history must keep only what the caller actually heard. Each
sentence of a reply is its own playback segment, so the heard text is: every sentence whose audio
finished playing, plus the first words of the sentence that was cut, in proportion to the share of
its audio that played (rounded down, so it is never overstated).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

__all__ = ["SpokenReply", "SpokenSentence"]


@attrs.define
class SpokenSentence:
    segment_id: str
    text: str
    audio_ms: float = 0.0
    """Audio synthesised for the sentence so far."""
    synthesised: bool = False


@attrs.define
class SpokenReply:
    turn: int
    sentences: list[SpokenSentence] = attrs.field(factory=list)
    history_index: int | None = None
    """Where the reply's assistant message sits in the history, once appended."""
    interrupted: bool = False

    def add(self, text: str) -> SpokenSentence:
        sentence = SpokenSentence(segment_id=f"t{self.turn}s{len(self.sentences)}", text=text)
        self.sentences.append(sentence)
        return sentence

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences).strip()

    @property
    def segments(self) -> set[str]:
        return {s.segment_id for s in self.sentences}

    def heard_text(self, played_ms: Callable[[str], float], finished: Callable[[str], bool]) -> str:
        """The words the caller heard, given the tracker's view of each segment."""
        heard: list[str] = []
        for sentence in self.sentences:
            if sentence.audio_ms > 0 and sentence.synthesised and finished(sentence.segment_id):
                heard.append(sentence.text)
                continue
            played = played_ms(sentence.segment_id)
            if played <= 0 or sentence.audio_ms <= 0:
                break
            words = sentence.text.split()
            fraction = min(1.0, played / sentence.audio_ms)
            count = int(len(words) * fraction)
            if count:
                heard.append(" ".join(words[:count]))
            break
        return " ".join(heard).strip()
