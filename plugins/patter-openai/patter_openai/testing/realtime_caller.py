"""The fake's side of the caller's turns: ``speech_started`` / ``speech_stopped`` and what follows.

Driven by a test (``FakeRealtimeServer.caller_turn``) or, with ``speech_detection=True``, by the energy of
the appended audio, like server VAD: speech after 100 ms above the threshold, end of turn after the
session's ``silence_duration_ms`` of quiet. Speech cancels the active response (``interrupt_response``);
the end of a turn commits the item, sends its transcription and starts a response (``create_response``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from patter_openai.testing import audio

if TYPE_CHECKING:
    from patter_openai.testing.realtime_conn import FakeRealtimeConnection

__all__ = ["CallerSimulator"]


class CallerSimulator:
    """Caller-turn state of one fake connection."""

    def __init__(self, conn: FakeRealtimeConnection) -> None:
        self.conn = conn
        self.input_ms = 0.0
        """Milliseconds of caller audio received (``audio_start_ms`` / ``audio_end_ms`` clock)."""
        self._speech_ms = 0.0
        self._silence_ms = 0.0
        self._speaking = False
        self._user_item: str | None = None

    async def hear(self, pcm: Any, ms: float) -> None:
        loud = audio.rms_dbfs(pcm) > self.conn.server.speech_threshold_dbfs
        if loud:
            self._speech_ms += ms
            self._silence_ms = 0.0
            if not self._speaking and self._speech_ms >= 100:
                await self.speech_started()
        else:
            self._speech_ms = 0.0
            self._silence_ms += ms
            silence = self.conn.turn_detection.get("silence_duration_ms") or 500
            if self._speaking and self._silence_ms >= silence:
                pending = self.conn.server.caller_transcripts
                transcript = pending.pop(0) if pending else ""
                await self.speech_stopped(transcript)

    async def speech_started(self) -> str:
        self._speaking = True
        self._user_item = self.conn.new_id("item")
        await self.conn.send(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": int(self.input_ms),
                "item_id": self._user_item,
            }
        )
        if self.conn.response is not None and self.conn.turn_detection.get("interrupt_response", True):
            self.conn.response.cancel("turn_detected")
        return self._user_item

    async def speech_stopped(self, transcript: str = "", *, respond: bool | None = None) -> None:
        if not self._speaking:
            await self.speech_started()
        self._speaking, self._speech_ms, self._silence_ms = False, 0.0, 0.0
        item_id = self._user_item or self.conn.new_id("item")
        await self.conn.send(
            {
                "type": "input_audio_buffer.speech_stopped",
                "audio_end_ms": int(self.input_ms),
                "item_id": item_id,
            }
        )
        await self.conn.send(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": self.conn.last_item_id,
                "item_id": item_id,
            }
        )
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        await self.conn.send(
            {"type": "conversation.item.added", "previous_item_id": self.conn.last_item_id, "item": item}
        )
        await self.conn.send(
            {"type": "conversation.item.done", "previous_item_id": self.conn.last_item_id, "item": item}
        )
        self.conn.last_item_id = item_id
        if self.conn.session["audio"]["input"].get("transcription"):
            await self.conn.send(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": 0,
                    "transcript": transcript,
                    "usage": {"type": "duration", "seconds": 1.0},
                }
            )
        should_respond = self.conn.turn_detection.get("create_response", True) if respond is None else respond
        if should_respond:
            if self.conn.response is not None:
                await self._wait_response_end()
            await self.conn.start_response(self.conn.server.next_reply(self.conn, None))

    async def _wait_response_end(self) -> None:
        response = self.conn.response
        if response is not None and response.task is not None:
            await asyncio.wait({response.task}, timeout=5.0)
