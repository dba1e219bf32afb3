"""The fake model speaking: one response's event sequence, audio at a real-time pace (PROTOCOLS §3.5).

Sequence for speech: ``response.created``, ``response.output_item.added``, ``conversation.item.added``,
``response.content_part.added``, then ``response.output_audio.delta`` chunks interleaved with
``response.output_audio_transcript.delta`` words, ``response.output_audio.done``,
``response.output_audio_transcript.done``, ``response.content_part.done``, ``response.output_item.done``,
``conversation.item.done``; for each tool call ``output_item.added``, ``function_call_arguments.delta``
x2, ``function_call_arguments.done``, ``output_item.done``; finally ``response.done``.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from patter_openai.testing import audio
from patter_openai.testing.scripts import FakeReply

if TYPE_CHECKING:
    from patter_openai.testing.realtime_conn import FakeRealtimeConnection

__all__ = ["ActiveResponse"]


class ActiveResponse:
    """A response being streamed; :meth:`cancel` ends it at the next chunk with ``status: cancelled``."""

    def __init__(self, conn: FakeRealtimeConnection, response_id: str, reply: FakeReply) -> None:
        self.conn = conn
        self.id = response_id
        self.reply = reply
        self.cancel_reason: str | None = None
        self._cancelled = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def cancel(self, reason: str) -> None:
        if self.cancel_reason is None:
            self.cancel_reason = reason
            self._cancelled.set()

    async def _wait(self, until: float) -> bool:
        """Sleep until the monotonic time ``until``; ``True`` when cancelled meanwhile."""
        delay = until - time.monotonic()
        if delay > 0 and not self._cancelled.is_set():
            try:
                await asyncio.wait_for(self._cancelled.wait(), delay)
            except TimeoutError:
                pass
        else:
            await asyncio.sleep(0)
        return self._cancelled.is_set()

    async def begin(self) -> None:
        """``response.created``: sent while the client event that caused it is handled (events are
        processed in order, so it precedes the answers to any later client event)."""
        await self.conn.send({"type": "response.created", "response": self._response("in_progress", [])})

    async def run(self) -> None:
        conn, reply = self.conn, self.reply
        output: list[dict[str, Any]] = []
        if reply.speaks:
            item = await self._speak()
            output.append(item)
        if self.cancel_reason is None:
            for index, call in enumerate(reply.tool_calls, start=len(output)):
                output.append(await self._call(index, call.name, call.arguments, call.call_id))
        status = "cancelled" if self.cancel_reason else reply.status
        details: dict[str, str | None] | None = None
        if self.cancel_reason:
            details = {"type": "cancelled", "reason": self.cancel_reason}
        elif status != "completed":
            details = {"type": status, "reason": None}
        if conn.response is self:  # the service is free for a new response once it says response.done
            conn.response = None
        await conn.send(
            {
                "type": "response.done",
                "response": {**self._response(status, output), "status_details": details},
            }
        )

    def _response(self, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "realtime.response",
            "status": status,
            "output": output,
            "conversation_id": "conv_fake",
            "output_modalities": ["audio"],
            "usage": {"total_tokens": 30, "input_tokens": 20, "output_tokens": 10},
        }

    def _audio(self) -> bytes:
        encoding = self.conn.output_encoding
        rate = audio.rate_of(encoding)
        if self.reply.audio is not None:
            pcm = np.frombuffer(self.reply.audio[: len(self.reply.audio) // 2 * 2], dtype="<i2").astype(
                np.int16
            )
            pcm = audio.resample(pcm, 24000, rate)
        else:
            pcm = audio.tone_pcm16(self.reply.tone_ms(), rate)
        return audio.encode(pcm, encoding)

    async def _speak(self) -> dict[str, Any]:
        conn, server = self.conn, self.conn.server
        item_id = conn.new_id("item")
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        common = {"response_id": self.id, "item_id": item_id, "output_index": 0, "content_index": 0}
        await conn.send(
            {"type": "response.output_item.added", "response_id": self.id, "output_index": 0, "item": item}
        )
        await conn.send(
            {"type": "conversation.item.added", "previous_item_id": conn.last_item_id, "item": item}
        )
        conn.last_item_id = item_id
        conn.items[item_id] = 0.0
        await conn.send(
            {"type": "response.content_part.added", **common, "part": {"type": "audio", "transcript": ""}}
        )
        data = self._audio()
        bytes_per_second = audio.rate_of(conn.output_encoding) * (
            2 if conn.output_encoding == "audio/pcm" else 1
        )
        step = max(1, int(bytes_per_second * server.chunk_ms / 1000))
        if conn.output_encoding == "audio/pcm":
            step -= step % 2
        chunks = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
        words = [w + " " for w in self.reply.text.split(" ")] if self.reply.text else []
        if words:
            words[-1] = words[-1].rstrip(" ")
        said: list[str] = []
        start = time.monotonic()
        sent_ms = 0.0
        for n, chunk in enumerate(chunks):
            while words and len(said) * len(chunks) <= n * (len(said) + len(words)):
                said.append(words.pop(0))
                await conn.send(
                    {"type": "response.output_audio_transcript.delta", **common, "delta": said[-1]}
                )
            if chunk:
                await conn.send(
                    {
                        "type": "response.output_audio.delta",
                        **common,
                        "delta": base64.b64encode(chunk).decode("ascii"),
                    }
                )
                sent_ms += len(chunk) * 1000 / bytes_per_second
                conn.items[item_id] = sent_ms
            if server.pace > 0 and await self._wait(start + sent_ms / 1000 / server.pace):
                break
            if server.pace <= 0 and await self._wait(0):
                break
        cancelled = self.cancel_reason is not None
        if not cancelled:
            for word in words:
                said.append(word)
                await conn.send({"type": "response.output_audio_transcript.delta", **common, "delta": word})
        transcript = "".join(said)
        await conn.send({"type": "response.output_audio.done", **common})
        await conn.send({"type": "response.output_audio_transcript.done", **common, "transcript": transcript})
        part = {"type": "audio", "transcript": transcript}
        await conn.send({"type": "response.content_part.done", **common, "part": part})
        done_item = {**item, "status": "incomplete" if cancelled else "completed", "content": [part]}
        await conn.send(
            {
                "type": "response.output_item.done",
                "response_id": self.id,
                "output_index": 0,
                "item": done_item,
            }
        )
        await conn.send({"type": "conversation.item.done", "previous_item_id": None, "item": done_item})
        return done_item

    async def _call(self, index: int, name: str, arguments: str, call_id: str | None) -> dict[str, Any]:
        conn = self.conn
        item_id = conn.new_id("item")
        call_id = call_id or conn.new_id("call")
        conn.call_ids.add(call_id)
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "call_id": call_id,
            "name": name,
            "arguments": "",
        }
        common = {"response_id": self.id, "item_id": item_id, "output_index": index, "call_id": call_id}
        await conn.send(
            {
                "type": "response.output_item.added",
                "response_id": self.id,
                "output_index": index,
                "item": item,
            }
        )
        half = len(arguments) // 2
        for piece in (arguments[:half], arguments[half:]):
            await conn.send({"type": "response.function_call_arguments.delta", **common, "delta": piece})
        await conn.send(
            {"type": "response.function_call_arguments.done", **common, "name": name, "arguments": arguments}
        )
        done_item = {**item, "status": "completed", "arguments": arguments}
        await conn.send(
            {
                "type": "response.output_item.done",
                "response_id": self.id,
                "output_index": index,
                "item": done_item,
            }
        )
        conn.last_item_id = item_id
        return done_item
