"""Per-turn latency metrics, measured on the monotonic clock.

A turn starts when the caller stops speaking and ends when the agent's first audio frame is handed to
the carrier. The stages add up to the total:

=================  ===============================================================
``vad_wait_ms``    end of caller speech -> the VAD (or the engine) declares it
``stt_ms``         that moment -> the final transcript of the turn
``brain_ms``       final transcript -> first reply text (LLM first token / on_message)
``tts_ms``         first reply text -> first audio byte from text-to-speech
``send_ms``        first audio byte -> first frame on the wire
``total_ms``       end of caller speech -> first frame on the wire
=================  ===============================================================
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["TurnMetrics"]


def _ms(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    return round((b - a) * 1000, 1)


@attrs.define
class TurnMetrics:
    index: int
    mode: str = "pipeline"
    speech_end_at: float | None = None
    vad_end_at: float | None = None
    stt_final_at: float | None = None
    first_text_at: float | None = None
    tts_first_byte_at: float | None = None
    first_audio_at: float | None = None
    interrupted: bool = False
    barge_ins: int = 0
    tool_calls: int = 0

    @property
    def vad_wait_ms(self) -> float | None:
        return _ms(self.speech_end_at, self.vad_end_at)

    @property
    def stt_ms(self) -> float | None:
        return _ms(self.vad_end_at, self.stt_final_at)

    @property
    def brain_ms(self) -> float | None:
        return _ms(self.stt_final_at, self.first_text_at)

    @property
    def tts_ms(self) -> float | None:
        return _ms(self.first_text_at, self.tts_first_byte_at)

    @property
    def send_ms(self) -> float | None:
        return _ms(self.tts_first_byte_at, self.first_audio_at)

    @property
    def total_ms(self) -> float | None:
        return _ms(self.speech_end_at, self.first_audio_at)

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "mode": self.mode,
            "vad_wait_ms": self.vad_wait_ms,
            "stt_ms": self.stt_ms,
            "brain_ms": self.brain_ms,
            "tts_ms": self.tts_ms,
            "send_ms": self.send_ms,
            "total_ms": self.total_ms,
            "interrupted": self.interrupted,
            "barge_ins": self.barge_ins,
            "tool_calls": self.tool_calls,
        }
