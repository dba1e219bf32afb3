"""One client connection to the fake Realtime server: session state and client-event handling.

Every client event is recorded, then checked against the GA shapes (:mod:`.ga_schema`); an invalid one
is recorded in ``server.invalid_events`` and answered with an ``error`` event, like the service does.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import json
import logging
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from patter_openai.testing import audio, ga_schema
from patter_openai.testing.realtime_caller import CallerSimulator
from patter_openai.testing.realtime_response import ActiveResponse
from patter_openai.testing.scripts import FakeReply

if TYPE_CHECKING:
    from patter_openai.testing.realtime_fake import FakeRealtimeServer

__all__ = ["FakeRealtimeConnection"]

log = logging.getLogger("patter.openai.testing")
_ids = itertools.count(1)


def _default_session(model: str) -> dict[str, Any]:
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": f"sess_fake_{next(_ids)}",
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "prompt": None,
        "expires_at": 0,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 500,
                    "create_response": True,
                    "interrupt_response": True,
                    "idle_timeout_ms": None,
                },
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0},
        },
    }


class FakeRealtimeConnection:
    """State of one connection. Tests read ``events``, ``session``, ``audio_in`` and ``items``."""

    def __init__(self, server: FakeRealtimeServer, ws: ServerConnection, index: int, model: str) -> None:
        self.server = server
        self.ws = ws
        self.index = index
        self.model = model
        self.session = _default_session(model)
        self.events: list[dict[str, Any]] = []
        """Every client event received on this connection, in order."""
        self.audio_in = bytearray()
        """Caller audio received, as sent (in the session's input format)."""
        self.items: dict[str, float] = {}
        """Assistant item id -> ms of audio streamed for it (what truncation is checked against)."""
        self.call_ids: set[str] = set()
        self.last_item_id: str | None = None
        self.response: ActiveResponse | None = None
        self.sent = 0
        self.dropped = False
        self.stalled = False
        self.closed = asyncio.Event()
        self.caller = CallerSimulator(self)

    # -- helpers ------------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_fake_{next(_ids)}"

    @property
    def input_encoding(self) -> str:
        return str(self.session["audio"]["input"]["format"]["type"])

    @property
    def output_encoding(self) -> str:
        return str(self.session["audio"]["output"]["format"]["type"])

    @property
    def turn_detection(self) -> dict[str, Any]:
        td = self.session["audio"]["input"].get("turn_detection")
        return td if isinstance(td, dict) else {}

    async def send(self, event: dict[str, Any]) -> None:
        """Send one server event (adds ``event_id``); applies ``drop_after`` and the stall mode."""
        if self.dropped or self.stalled:
            return
        event = {"event_id": self.new_id("event"), **event}
        try:
            await self.ws.send(json.dumps(event))
        except ConnectionClosed:
            return
        self.server.server_events.append((self.index, event))
        self.sent += 1
        limit = self.server.drop_after_for(self.index)
        if limit is not None and self.sent >= limit:
            self.drop()

    def drop(self) -> None:
        """Cut the TCP connection without a close frame (a network drop)."""
        if not self.dropped:
            self.dropped = True
            log.info("fake realtime: dropping connection #%d after %d server events", self.index, self.sent)
            self.ws.transport.abort()

    def stall(self) -> None:
        """Stop reading (pings go unanswered) and sending, keeping the socket open."""
        self.stalled = True
        self.ws.transport.pause_reading()

    async def error(
        self,
        code: str,
        message: str,
        *,
        event_id: object = None,
        param: str | None = None,
        type: str = "invalid_request_error",
    ) -> None:
        error = {
            "type": type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": event_id if isinstance(event_id, str) else None,
        }
        self.server.errors_sent.append(error)
        await self.send({"type": "error", "error": error})

    # -- main loop ----------------------------------------------------------------------------

    async def serve(self) -> None:
        stall = self.server.stall_for(self.index)
        if stall == "before_created":
            self.stall()
            await self.ws.wait_closed()
            return
        await self.send({"type": "session.created", "session": copy.deepcopy(self.session)})
        try:
            async for raw in self.ws:
                await self.handle(raw)
        except ConnectionClosed:
            pass
        finally:
            if self.response is not None:
                self.response.cancel("client_cancelled")
            self.closed.set()

    async def handle(self, raw: str | bytes) -> None:
        try:
            event = json.loads(raw)
        except ValueError:
            await self.error("invalid_json", "The client event is not valid JSON.")
            return
        self.server.record(self, event)
        found = ga_schema.problems(event)
        event_id = event.get("event_id") if isinstance(event, dict) else None
        if found:
            self.server.invalid_events.append((event, found))
            await self.error("invalid_value", "; ".join(found), event_id=event_id)
            return
        kind = event["type"]
        if kind == "session.update" and self.server.stall_for(self.index) == "before_updated":
            self.stall()
            return
        handler = getattr(self, "_on_" + kind.replace(".", "_"))
        await handler(event, event_id)
        if kind == "session.update" and self.server.stall_for(self.index) == "after_updated":
            self.stall()

    # -- client events --------------------------------------------------------------------------

    async def _on_session_update(self, event: dict[str, Any], event_id: object) -> None:
        update = event["session"]
        for key, value in update.items():
            if key == "audio":
                for direction, block in value.items():
                    self.session["audio"][direction].update(copy.deepcopy(block))
            else:
                self.session[key] = copy.deepcopy(value)
        if not self.server.honour_pcmu:
            for direction in ("input", "output"):
                if self.session["audio"][direction]["format"]["type"] in ("audio/pcmu", "audio/pcma"):
                    self.session["audio"][direction]["format"] = {"type": "audio/pcm", "rate": 24000}
        await self.send({"type": "session.updated", "session": copy.deepcopy(self.session)})

    async def _on_input_audio_buffer_append(self, event: dict[str, Any], event_id: object) -> None:
        data = base64.b64decode(event["audio"])
        if self.server.keep_input_audio:
            self.audio_in += data
        pcm = audio.decode(data, self.input_encoding)
        ms = len(pcm) * 1000 / audio.rate_of(self.input_encoding)
        self.caller.input_ms += ms
        if self.server.speech_detection:
            await self.caller.hear(pcm, ms)

    async def _on_input_audio_buffer_commit(self, event: dict[str, Any], event_id: object) -> None:
        item_id = self.new_id("item")
        await self.send(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": self.last_item_id,
                "item_id": item_id,
            }
        )
        self.last_item_id = item_id

    async def _on_input_audio_buffer_clear(self, event: dict[str, Any], event_id: object) -> None:
        await self.send({"type": "input_audio_buffer.cleared"})

    async def _on_response_create(self, event: dict[str, Any], event_id: object) -> None:
        if self.response is not None:
            await self.error(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.response.id}. "
                "Wait until the response is finished before creating a new one.",
                event_id=event_id,
            )
            return
        instructions = (event.get("response") or {}).get("instructions")
        await self.start_response(self.server.next_reply(self, instructions))

    async def start_response(self, reply: FakeReply) -> None:
        active = ActiveResponse(self, self.new_id("resp"), reply)
        self.response = active
        await active.begin()

        async def run() -> None:
            try:
                await active.run()
            finally:
                if self.response is active:
                    self.response = None

        active.task = asyncio.get_running_loop().create_task(run())
        self.server.tasks.add(active.task)
        active.task.add_done_callback(self.server.tasks.discard)

    async def _on_response_cancel(self, event: dict[str, Any], event_id: object) -> None:
        if self.response is None:
            await self.error(
                "response_cancel_not_active",
                "Cancellation failed: no active response found.",
                event_id=event_id,
            )
            return
        self.response.cancel("client_cancelled")

    async def _on_conversation_item_create(self, event: dict[str, Any], event_id: object) -> None:
        item = dict(event["item"])
        if item["type"] == "function_call_output" and item["call_id"] not in self.call_ids:
            await self.error(
                "invalid_value",
                f"Tool call ID '{item['call_id']}' not found in conversation.",
                event_id=event_id,
                param="item.call_id",
            )
            return
        item.setdefault("id", self.new_id("item"))
        item.update(object="realtime.item", status="completed")
        await self.send(
            {"type": "conversation.item.added", "previous_item_id": self.last_item_id, "item": item}
        )
        await self.send(
            {"type": "conversation.item.done", "previous_item_id": self.last_item_id, "item": item}
        )
        self.last_item_id = item["id"]

    async def _on_conversation_item_truncate(self, event: dict[str, Any], event_id: object) -> None:
        item_id, end = event["item_id"], event["audio_end_ms"]
        if item_id not in self.items:
            await self.error(
                "invalid_value", f"Item with id '{item_id}' not found.", event_id=event_id, param="item_id"
            )
            return
        length = self.items[item_id]
        if end > length:
            await self.error(
                "invalid_value",
                f"Audio content of {length:.0f}ms is already shorter than {end}ms",
                event_id=event_id,
                param="audio_end_ms",
            )
            return
        self.items[item_id] = float(end)
        self.server.truncations.append((item_id, end))
        await self.send(
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": end,
            }
        )

    async def _on_conversation_item_delete(self, event: dict[str, Any], event_id: object) -> None:
        await self.send({"type": "conversation.item.deleted", "item_id": event["item_id"]})

    async def _on_conversation_item_retrieve(self, event: dict[str, Any], event_id: object) -> None:
        await self.error("item_not_found", "retrieve is not simulated by the fake", event_id=event_id)

    # -- caller turns (see realtime_caller) -------------------------------------------------------

    async def speech_started(self) -> str:
        return await self.caller.speech_started()

    async def speech_stopped(self, transcript: str = "", *, respond: bool | None = None) -> None:
        await self.caller.speech_stopped(transcript, respond=respond)
