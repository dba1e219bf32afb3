"""One call's Realtime session: a reader task turns server events into the core's engine events.

What this layer guarantees (PROTOCOLS §3.5-§3.6):

* tool calls are delivered only after the ``response.done`` of their response, and only when it
  ``completed`` (``function_call_arguments.done`` is also sent for cancelled responses);
* ``response.create`` is never sent while a response is active or requested: it waits for
  ``response.done``; a ``conversation_already_has_active_response`` for a :meth:`say` is retried then;
  the follow-up after tool results (or :meth:`send_text`) is skipped when a response the service
  created *after* adding them (its ``response.created`` follows their ``conversation.item.added``)
  already answers them;
* ``truncate`` never names an unknown item and never goes past the audio received for the item;
* a dropped socket is reconnected once (same ``session.update``, conversation re-seeded from the
  transcripts); a second drop, or a failed reconnect, makes :meth:`events` raise
  :class:`ProviderConnectionError`. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from patter_core.audio.format import AudioFormat
from patter_core.errors import ProviderConnectionError
from patter_core.interfaces.engine import EngineEvent, EngineSession, ResponseDone, ToolCallRequested
from patter_openai.realtime import events as ev
from patter_openai.realtime.connection import RealtimeConnection, close_details, negotiated_formats
from patter_openai.realtime.dispatch import Dispatcher

__all__ = ["OpenAIRealtimeSession"]

log = logging.getLogger("patter.openai.realtime")
_END = object()
_MAX_TRACKED_ITEMS = 64
#: Transcript lines kept to re-seed the conversation after a reconnect.
HISTORY_ITEMS = 20

Reconnector = Callable[[], Awaitable[RealtimeConnection]]


class OpenAIRealtimeSession(EngineSession):
    """Created by :meth:`OpenAIRealtime.connect`; see the module docstring for its guarantees.

    ``input_format`` / ``output_format`` are the formats negotiated at connect (what :meth:`send_audio`
    takes, what :class:`AgentAudio` carries); ``wire_input_format`` / ``wire_output_format`` are the
    ones of the current socket, which a reconnect may change (audio is then converted on the way in,
    and :class:`AgentAudio` events carry ``format=`` on the way out).
    """

    def __init__(
        self,
        connection: RealtimeConnection,
        *,
        input_format: AudioFormat,
        output_format: AudioFormat,
        requested_formats: tuple[AudioFormat, AudioFormat],
        reconnect: Reconnector | None,
        say_template: str,
    ) -> None:
        self.input_format = input_format
        self.output_format = output_format
        self.wire_input_format = input_format
        self.wire_output_format = output_format
        self.reconnects = 0
        self._requested_formats = requested_formats
        self._ws: ClientConnection = connection.ws
        self._reconnect = reconnect
        self._say_template = say_template
        self._queue: asyncio.Queue[EngineEvent | object] = asyncio.Queue()
        self._dispatch = Dispatcher(self)
        self._ready = True
        self._closing = False
        self._failure: ProviderConnectionError | None = None
        self._reader: asyncio.Task[None] | None = None
        self._converter: Any = None
        self._event_seq = 0
        self._sent_types: OrderedDict[str, str] = OrderedDict()
        # per-connection conversation state
        self.items: OrderedDict[str, float] = OrderedDict()
        """Item id -> ms of its audio received (the limit for truncation)."""
        self.active_responses: set[str] = set()
        self.requested: OrderedDict[str, str | None] = OrderedDict()
        """event_id of each ``response.create`` not yet answered -> the text of a :meth:`say`, else None."""
        self.queued_says: deque[str] = deque()
        self.response_says: dict[str, str] = {}
        """response_id -> the :meth:`say` text it speaks, while it is active (re-spoken if a drop cuts it)."""
        self.say_texts: OrderedDict[str, str] = OrderedDict()
        """event_id -> text of recent :meth:`say` requests, to retry one the service refused as busy
        (kept apart from ``requested``, whose entries a concurrent server response may consume)."""
        self.pending_calls: dict[str | None, list[ToolCallRequested]] = {}
        self.outstanding_calls: set[str] = set()
        self.delivered_calls: set[str] = set()
        self.followup_pending = False
        self.followup_key: tuple[str, str] | None = None
        """The last item we added that wants an answer: ``("call", call_id)`` for a tool output,
        ``("text", text)`` for :meth:`send_text`; ``followup_added`` once the service confirmed it with
        ``conversation.item.added`` (a response created after that already answers it)."""
        self.followup_added = False
        self.history: deque[tuple[Literal["user", "assistant"], str]] = deque(maxlen=HISTORY_ITEMS)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._reader = asyncio.get_running_loop().create_task(
            self._run(), name="patter-openai-realtime-reader"
        )

    async def aclose(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._ready = False
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await self._ws.close()
        self._ws.transport.abort()
        self._queue.put_nowait(_END)

    async def events(self) -> AsyncIterator[EngineEvent]:
        while True:
            item = await self._queue.get()
            if item is _END:
                self._queue.put_nowait(_END)  # a second iteration ends at once too
                if self._failure is not None:
                    raise self._failure
                return
            yield item  # type: ignore[misc]

    def emit(self, event: EngineEvent) -> None:
        self._queue.put_nowait(event)

    # -- client -> server ---------------------------------------------------------------------

    async def send_audio(self, audio: bytes) -> None:
        if not audio or not self._ready:
            return
        if self._converter is not None:
            audio = self._converter.convert(audio)
            if not audio:
                return
        try:  # the hot path (every 20 ms): what _send(ev.append_audio(audio), track=False) sends, prebuilt
            await self._ws.send(ev.append_audio_json(audio))
        except ConnectionClosed:
            log.debug("dropping input_audio_buffer.append: the Realtime socket closed")

    async def send_tool_result(self, call_id: str, output: str, *, is_error: bool = False) -> None:
        if call_id not in self.delivered_calls:
            log.warning("not sending the result of tool call %s: this connection never requested it", call_id)
            return
        self.outstanding_calls.discard(call_id)
        if is_error:  # GA function outputs are plain strings: say it failed in the text the model reads
            output = json.dumps({"error": output})
        self.followup_key, self.followup_added = ("call", call_id), False
        await self._send(ev.function_call_output(call_id, output))
        if not self.outstanding_calls:  # the model continues once every call of its response has an answer
            await self._follow_up()

    async def send_text(self, text: str) -> None:
        if not text.strip():
            return
        if not self._ready:
            log.warning("dropping text input: the Realtime socket is reconnecting")
            return
        self.followup_key, self.followup_added = ("text", text), False
        await self._send(ev.create_history_item("user", text))
        await self._follow_up()

    async def _follow_up(self) -> None:
        """Ask for a response to what was just added -- now, or after the active response."""
        if self.busy:
            log.debug("response.create deferred until the active response is done")
            self.followup_pending = True
        else:
            await self.request_response(None)

    async def say(self, text: str) -> None:
        if not text.strip():
            return
        if self.busy or not self._ready:  # a reconnect in progress speaks it once the session is back
            self.queued_says.append(text)
        else:
            await self.request_response(text)

    async def cancel_response(self) -> None:
        self.queued_says.clear()
        if self.active_responses:
            await self._send(ev.cancel_response())

    async def truncate(self, item_id: str, audio_end_ms: int) -> None:
        received = self.items.get(item_id)
        if received is None:
            log.debug("not truncating %s: no audio of that item was received on this connection", item_id)
            return
        end = max(0, min(int(audio_end_ms), int(received)))
        if end < audio_end_ms:
            log.debug("truncate of %s clamped from %s to %s ms (audio received)", item_id, audio_end_ms, end)
        self.items[item_id] = float(end)  # the item is now that long
        await self._send(ev.truncate_item(item_id, end))

    @property
    def busy(self) -> bool:
        """A response is being generated, or one we asked for has not started yet."""
        return bool(self.active_responses or self.requested)

    async def request_response(self, say_text: str | None) -> None:
        instructions = None if say_text is None else ev.say_instructions(self._say_template, say_text)
        event = ev.create_response(instructions=instructions)
        event_id = await self._send(event)
        if event_id is not None:
            self.requested[event_id] = say_text
            if say_text is not None:
                self.say_texts[event_id] = say_text
                while len(self.say_texts) > 32:
                    self.say_texts.popitem(last=False)
        elif say_text is not None and not self._closing:
            self.queued_says.appendleft(say_text)  # the socket just closed: say it after the reconnect

    async def on_response_done(self) -> None:
        """A response ended: send what waited for it (queued :meth:`say` first, then tool follow-up)."""
        if self.busy:
            return
        if self.queued_says:
            await self.request_response(self.queued_says.popleft())
        elif self.followup_pending:
            self.followup_pending = False
            await self.request_response(None)

    def event_type_of(self, event_id: object) -> str | None:
        return self._sent_types.get(event_id) if isinstance(event_id, str) else None

    async def _send(self, event: dict[str, Any], *, track: bool = True) -> str | None:
        if not self._ready:
            log.debug("dropping %s: the Realtime socket is not open", event.get("type"))
            return None
        event_id = None
        if track:
            self._event_seq += 1
            event_id = f"patter_{self._event_seq}"
            event = {**event, "event_id": event_id}
            self._sent_types[event_id] = str(event.get("type"))
            while len(self._sent_types) > 256:
                self._sent_types.popitem(last=False)
        try:
            await self._ws.send(json.dumps(event, separators=(",", ":")))
        except ConnectionClosed:
            log.debug("dropping %s: the Realtime socket closed", event.get("type"))
            return None
        return event_id

    # -- server -> client ---------------------------------------------------------------------

    def note_audio(self, item_id: str, ms: float) -> None:
        self.items[item_id] = self.items.get(item_id, 0.0) + ms
        self.items.move_to_end(item_id)
        while len(self.items) > _MAX_TRACKED_ITEMS:
            self.items.popitem(last=False)

    async def _run(self) -> None:
        try:
            while True:
                code, reason = await self._read(self._ws)
                if self._closing:
                    return
                if self._reconnect is None or self.reconnects >= 1:
                    self._fail(f"the Realtime socket dropped again (code {code}{reason}); giving up")
                    return
                if not await self._reconnect_once(code, reason):
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must end the session visibly, never hang it
            log.exception("OpenAI Realtime reader failed")
            self._fail(f"internal error in the Realtime reader: {exc!r}")
        finally:
            if not self._closing:
                self._ready = False
                self._queue.put_nowait(_END)

    async def _read(self, ws: ClientConnection) -> tuple[int | None, str]:
        try:
            async for message in ws:
                await self._dispatch.handle(message)
        except ConnectionClosed as exc:
            code, reason = close_details(exc)
            return code, f", {reason}" if reason else ""
        return ws.close_code, f", {ws.close_reason}" if ws.close_reason else ""

    async def _reconnect_once(self, code: int | None, reason: str) -> bool:
        assert self._reconnect is not None
        self._ready = False
        self.reconnects += 1
        log.warning("OpenAI Realtime socket dropped mid-call (code %s%s); reconnecting once", code, reason)
        interrupted = sorted(self.active_responses)
        for response_id in interrupted:
            self.emit(ResponseDone(response_id=response_id, status="failed"))
        # what the drop cut off is said again: scripted texts verbatim, a model reply regenerated
        resumed = [self.response_says[r] for r in interrupted if r in self.response_says]
        regenerate = any(r not in self.response_says for r in interrupted)
        unanswered = [t for t in self.requested.values() if t is not None]
        self._reset_conversation_state()
        self.queued_says.extendleft(reversed(resumed + unanswered))  # texts cut off or never started
        try:
            connection = await self._reconnect()
        except ProviderConnectionError as exc:
            self._fail(f"the Realtime socket dropped and reconnecting failed: {exc}")
            return False
        self._ws = connection.ws
        self._adopt_formats(connection)
        self._ready = True
        for role, text in self.history:
            await self._send(ev.create_history_item(role, text))
        self.followup_pending = regenerate and not self.queued_says
        await self.on_response_done()
        log.warning(
            "OpenAI Realtime reconnected; session configuration re-sent, %d transcript lines restored",
            len(self.history),
        )
        return True

    def _adopt_formats(self, connection: RealtimeConnection) -> None:
        wire_in, wire_out = negotiated_formats(connection.session, *self._requested_formats)
        self.wire_input_format, self.wire_output_format = wire_in, wire_out
        self._converter = None
        if wire_in != self.input_format:
            from patter_core.audio import Converter

            self._converter = Converter(self.input_format, wire_in)

    def _reset_conversation_state(self) -> None:
        self.items.clear()
        self.active_responses.clear()
        self.requested.clear()
        self.say_texts.clear()
        self.response_says.clear()
        self.pending_calls.clear()
        self.outstanding_calls.clear()
        self.delivered_calls.clear()
        self.followup_pending = False
        self.followup_key, self.followup_added = None, False

    def _fail(self, message: str) -> None:
        log.error("OpenAI Realtime session failed: %s", message)
        self._failure = ProviderConnectionError(message, provider="openai-realtime", code="connection_lost")
