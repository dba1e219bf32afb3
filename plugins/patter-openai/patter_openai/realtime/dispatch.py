"""Server events of the GA Realtime protocol -> the core's :mod:`engine events <patter_core.interfaces.engine>`.

Only GA event names are understood (``response.output_audio.delta``, not beta ``response.audio.delta``).
Anything else -- unknown types, non-JSON text, binary frames, events missing a field -- is dropped with
a log line and never ends the call.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from patter_core.interfaces.engine import (
    AgentAudio,
    AgentTranscript,
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerTranscript,
    EngineError,
    ResponseDone,
    ResponseStarted,
    ToolCallRequested,
)
from patter_openai._common import as_object

if TYPE_CHECKING:
    from patter_openai.realtime.session import OpenAIRealtimeSession

__all__ = ["HARMLESS_ERRORS", "Dispatcher"]

log = logging.getLogger("patter.openai.realtime")

#: Error codes that are races the protocol expects, not failures (PROTOCOLS §3.4, §3.6).
HARMLESS_ERRORS = frozenset({"conversation_already_has_active_response", "response_cancel_not_active"})

Handler = Callable[[dict[str, Any]], Awaitable[None]]


def _str(event: Mapping[str, Any], key: str) -> str:
    value = event[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    return value


def _opt_str(event: Mapping[str, Any], key: str) -> str | None:
    value = event.get(key)
    return value if isinstance(value, str) else None


class Dispatcher:
    """Parses one server message at a time and updates the session's conversation state."""

    def __init__(self, session: OpenAIRealtimeSession) -> None:
        self._s = session
        self._handlers: dict[str, Handler] = {
            "response.output_audio.delta": self._audio_delta,
            "response.output_audio_transcript.delta": self._transcript_delta,
            "response.output_audio_transcript.done": self._transcript_done,
            "conversation.item.input_audio_transcription.delta": self._caller_delta,
            "conversation.item.input_audio_transcription.completed": self._caller_completed,
            "conversation.item.input_audio_transcription.failed": self._caller_failed,
            "input_audio_buffer.speech_started": self._speech_started,
            "input_audio_buffer.speech_stopped": self._speech_stopped,
            "conversation.item.added": self._item_added,
            "response.created": self._response_created,
            "response.function_call_arguments.done": self._function_call,
            "response.done": self._response_done,
            "error": self._error,
        }

    async def handle(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            log.warning("dropping a binary frame of %d bytes from the Realtime service", len(raw))
            return
        try:
            event = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: JSON nested absurdly deep
            log.warning("dropping a Realtime message that is not JSON: %.80r", raw)
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            log.warning("dropping a Realtime message without a type: %.80r", raw)
            return
        kind = event["type"]
        handler = self._handlers.get(kind)
        if handler is None:
            log.debug("ignoring Realtime event %s", kind)
            return
        try:
            await handler(event)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            log.warning("dropping malformed Realtime event %s: %s", kind, exc)

    # -- audio and transcripts ------------------------------------------------------------------

    async def _audio_delta(self, event: dict[str, Any]) -> None:
        item_id = _str(event, "item_id")
        data = base64.b64decode(_str(event, "delta"), validate=True)
        if not data:
            return
        s = self._s
        fmt = s.wire_output_format
        s.note_audio(item_id, fmt.duration_ms(len(data)))
        s.emit(AgentAudio(data=data, item_id=item_id, format=None if fmt == s.output_format else fmt))

    async def _transcript_delta(self, event: dict[str, Any]) -> None:
        self._s.emit(
            AgentTranscript(text=_str(event, "delta"), item_id=_opt_str(event, "item_id"), final=False)
        )

    async def _transcript_done(self, event: dict[str, Any]) -> None:
        text = _str(event, "transcript")
        if text.strip():
            self._s.history.append(("assistant", text))
        self._s.emit(AgentTranscript(text=text, item_id=_opt_str(event, "item_id"), final=True))

    async def _caller_delta(self, event: dict[str, Any]) -> None:
        self._s.emit(
            CallerTranscript(text=_str(event, "delta"), final=False, item_id=_opt_str(event, "item_id"))
        )

    async def _caller_completed(self, event: dict[str, Any]) -> None:
        text = _str(event, "transcript")
        if text.strip():
            self._s.history.append(("user", text))
        self._s.emit(CallerTranscript(text=text, final=True, item_id=_opt_str(event, "item_id")))

    async def _caller_failed(self, event: dict[str, Any]) -> None:
        error = as_object(event.get("error"))
        log.warning("caller transcription failed for %s: %s", event.get("item_id"), error.get("message"))

    async def _speech_started(self, event: dict[str, Any]) -> None:
        self._s.emit(CallerSpeechStarted(item_id=_opt_str(event, "item_id")))

    async def _speech_stopped(self, event: dict[str, Any]) -> None:
        self._s.emit(CallerSpeechStopped(item_id=_opt_str(event, "item_id")))

    # -- responses and tools --------------------------------------------------------------------

    async def _response_created(self, event: dict[str, Any]) -> None:
        response = event["response"]
        response_id = _str(response, "id")
        s = self._s
        s.active_responses.add(response_id)
        if s.requested:
            _, said = s.requested.popitem(last=False)  # responses start in the order they were asked for
            if said is not None:
                s.response_says[response_id] = said
        if s.followup_pending and s.followup_added:
            s.followup_pending = False  # created after our items were added: it answers them
        s.emit(ResponseStarted(response_id=response_id))

    async def _item_added(self, event: dict[str, Any]) -> None:
        item = as_object(event["item"])
        s = self._s
        if s.followup_key is None:
            return
        kind, key = s.followup_key
        if kind == "call" and item.get("type") == "function_call_output":
            s.followup_added = s.followup_added or item.get("call_id") == key
        elif kind == "text" and item.get("type") == "message" and item.get("role") == "user":
            content = item.get("content")
            first = as_object(content[0]) if isinstance(content, list) and content else {}
            s.followup_added = s.followup_added or first.get("text") == key

    async def _function_call(self, event: dict[str, Any]) -> None:
        call = ToolCallRequested(
            call_id=_str(event, "call_id"), name=_str(event, "name"), arguments=_str(event, "arguments")
        )
        self._s.pending_calls.setdefault(_opt_str(event, "response_id"), []).append(call)

    async def _response_done(self, event: dict[str, Any]) -> None:
        response = event["response"]
        if not isinstance(response, dict):
            raise TypeError("response is not an object")
        s = self._s
        response_id = _opt_str(response, "id")
        status = _opt_str(response, "status") or "completed"
        if response_id is None:
            s.active_responses.clear()
            s.response_says.clear()
        else:
            s.active_responses.discard(response_id)
            s.response_says.pop(response_id, None)
        calls = s.pending_calls.pop(response_id, [])
        calls += self._unseen_calls(response, {c.call_id for c in calls})
        s.emit(ResponseDone(response_id=response_id, status=status))
        if status == "completed":
            for call in calls:
                s.delivered_calls.add(call.call_id)
                s.outstanding_calls.add(call.call_id)
                s.emit(call)
        elif calls:
            log.info("not running %d tool call(s) of %s response %s", len(calls), status, response_id)
        await s.on_response_done()

    @staticmethod
    def _unseen_calls(response: Mapping[str, Any], seen: set[str]) -> list[ToolCallRequested]:
        """Function calls listed in ``response.done`` whose ``arguments.done`` we did not get."""
        found = []
        output = response.get("output")
        for item in output if isinstance(output, list) else ():
            if not isinstance(item, dict) or item.get("type") != "function_call":
                continue
            call_id, name, args = item.get("call_id"), item.get("name"), item.get("arguments")
            if args is not None and not isinstance(args, str):  # never run a tool on garbled arguments
                log.warning("dropping function call %r of response.done: arguments are not a string", name)
                continue
            if isinstance(call_id, str) and call_id not in seen and isinstance(name, str):
                found.append(ToolCallRequested(call_id=call_id, name=name, arguments=args or "{}"))
        return found

    # -- errors -----------------------------------------------------------------------------------

    async def _error(self, event: dict[str, Any]) -> None:
        error = event.get("error")
        if not isinstance(error, dict):
            raise TypeError("error is not an object")
        s = self._s
        code = _opt_str(error, "code") or _opt_str(error, "type")
        message = _opt_str(error, "message") or "unknown error"
        client_event = error.get("event_id")
        about = s.event_type_of(client_event) or "an unknown client event"
        if code in HARMLESS_ERRORS:
            log.info("OpenAI Realtime: %s (after %s) -- harmless", code, about)
        else:
            log.warning("OpenAI Realtime error %s after %s: %s", code, about, message)
        retry_say = None
        if isinstance(client_event, str):
            s.requested.pop(client_event, None)
            text = s.say_texts.pop(client_event, None)
            if code == "conversation_already_has_active_response" and text is not None:
                retry_say = text
        s.emit(EngineError(message=message, code=code, fatal=False))
        if retry_say is not None:
            # the service has a response active (its response.created came before this error, events
            # being ordered), so the text is spoken after that response's response.done
            s.queued_says.appendleft(retry_say)
        else:
            await s.on_response_done()
