"""What the fakes say: scripted Realtime replies and tool calls."""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

__all__ = ["FakeReply", "FakeToolCall", "quoted_text"]


@attrs.define
class FakeToolCall:
    """A function call the fake model makes (``call_id`` is generated when not given)."""

    name: str
    arguments: str = "{}"
    call_id: str | None = None


@attrs.define
class FakeReply:
    """One scripted model response.

    Args:
        text: what the model says (transcript deltas, one per word, spread over the audio).
        audio: the spoken audio as PCM16 mono 24 kHz; converted to the session's output format. When
            ``None`` a 440 Hz tone is generated, ``audio_ms`` long (default: 60 ms per character, at
            least 300 ms).
        tool_calls: function calls made after the speech (PROTOCOLS §3.5 event sequence).
        status: the ``response.done`` status; ``cancelled`` / ``failed`` / ``incomplete`` simulate a
            response that ends badly *after* emitting everything (``function_call_arguments.done`` is
            sent for cancelled responses too).
    """

    text: str = ""
    audio: bytes | None = None
    audio_ms: float | None = None
    tool_calls: Sequence[FakeToolCall] = ()
    status: str = "completed"

    @property
    def speaks(self) -> bool:
        return bool(self.text or self.audio or self.audio_ms)

    def tone_ms(self) -> float:
        if self.audio_ms is not None:
            return self.audio_ms
        return max(300.0, 60.0 * len(self.text))


_QUOTED = re.compile(r'"(.+)"', re.DOTALL)


def quoted_text(instructions: str | None) -> str | None:
    """The text between the first and last double quote of ``instructions`` (how ``say()`` asks)."""
    if not instructions:
        return None
    match = _QUOTED.search(instructions)
    return match.group(1) if match else None
