"""Ties ConvAI ``agent_response`` texts to the ``event_id`` of the audio they describe.

The session loop keys agent audio and agent text by ``item_id``: a guardrail that blocks a text stops
(and drops the rest of) the audio item with the same id, and a barge-in cuts that item's transcript to
what was heard. ConvAI's ``agent_response`` carries no id, and may arrive before its turn's audio (then
it is held, at most ``HOLD_S`` seconds, and released with the id of the first new audio, just before
that audio so a guardrail can stop it before one byte plays) or after the audio started (then it takes
the id of the audio playing, unless an interruption or a caller transcript ended that turn). Held text
is released untagged when something else happens first.
"""

from __future__ import annotations

from patter_core.interfaces.engine import AgentTranscript

__all__ = ["HOLD_S", "TurnTagger"]

HOLD_S = 1.5
"""Longest an ``agent_response`` waits for its audio (text-only turns have none)."""


class TurnTagger:
    def __init__(self) -> None:
        self._held: str | None = None
        self._described: int | None = None
        self._last_audio: int | None = None

    @property
    def holding(self) -> bool:
        return self._held is not None

    def text(self, text: str) -> list[AgentTranscript]:
        """An ``agent_response``: emitted now when its audio already plays, else held."""
        out = self.flush()
        if self._last_audio is not None and self._last_audio != self._described:
            self._described = self._last_audio
            out.append(AgentTranscript(text, item_id=str(self._last_audio), final=True))
        else:
            self._held = text
        return out

    def audio(self, event_id: int) -> list[AgentTranscript]:
        """Audio of ``event_id`` is about to be emitted: release held text tagged with it."""
        out: list[AgentTranscript] = []
        if self._held is not None and event_id != self._described:
            out.append(AgentTranscript(self._held, item_id=str(event_id), final=True))
            self._held, self._described = None, event_id
        self._last_audio = event_id
        return out

    def correction(self, text: str) -> list[AgentTranscript]:
        """``agent_response_correction``: the corrected text of the last described turn."""
        out = self.flush()
        item = str(self._described) if self._described is not None else None
        return [*out, AgentTranscript(text, item_id=item, final=True)]

    def boundary(self) -> list[AgentTranscript]:
        """An interruption or a caller turn: the audio turn playing is over, later text is not its."""
        out = self.flush()
        self._described = self._last_audio
        return out

    def flush(self) -> list[AgentTranscript]:
        """Release held text untagged (no audio came for it)."""
        if self._held is None:
            return []
        text, self._held = self._held, None
        return [AgentTranscript(text, final=True)]
