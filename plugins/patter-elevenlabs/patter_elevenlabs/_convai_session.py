"""One call's ElevenLabs ConvAI conversation: the WebSocket, its reader task and the event mapping.

A reader task owned by the session receives every server message, answers ``ping`` at once (even while
the session loop is busy) and queues Patter events for :meth:`ConvAISession.events`:

==============================  ===============================================================
server ``type``                  Patter event
==============================  ===============================================================
``audio``                       :class:`AgentAudio` (``item_id`` = the ``event_id``), dropped when its
                                ``event_id`` is at or below the last ``interruption``'s
``interruption``                :class:`EngineInterrupted` (flush the carrier's playback)
``agent_response``              :class:`AgentTranscript` (``final=True``), ``item_id`` = the ``event_id``
                                of the audio it describes (see :mod:`._convai_turns`)
``agent_response_correction``   :class:`AgentTranscript` (``final=True``, same ``item_id``) with the
                                corrected text: what the agent really said after being interrupted; it
                                supersedes the previous agent transcript
``user_transcript``             :class:`CallerTranscript`
``client_tool_call``            :class:`ToolCallRequested` (answer with :meth:`send_tool_result`)
``ping``                        answered with ``pong`` (same ``event_id``), not surfaced
others                          ignored (``vad_score``, ``internal_*``, unknown types)
==============================  ===============================================================

A normal close (1000) by ElevenLabs means the agent ended the conversation: :meth:`events` ends. Any
other close raises :class:`ProviderConnectionError` from :meth:`events`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from patter_core.audio.format import PCM16_16K, AudioFormat
from patter_core.errors import ConfigurationError, ProviderConnectionError
from patter_core.interfaces.engine import (
    AgentAudio,
    AgentTranscript,
    CallerTranscript,
    EngineEvent,
    EngineInterrupted,
    EngineSession,
    ToolCallRequested,
)
from patter_elevenlabs._convai_turns import HOLD_S, TurnTagger
from patter_elevenlabs._formats import format_from_name
from patter_elevenlabs._ws import PROVIDER, close_description

__all__ = ["ConvAISession"]

log = logging.getLogger("patter.elevenlabs.convai")
_END = object()
_IGNORED = frozenset({"vad_score", "agent_chat_response_part", "conversation_initiation_metadata_ack"})


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


class ConvAISession(EngineSession):
    """The per-call object :meth:`ElevenLabsConvAI.connect` returns."""

    def __init__(self, ws: ClientConnection, *, agent_id: str) -> None:
        self._ws = ws
        self.agent_id = agent_id
        self.input_format: AudioFormat = PCM16_16K
        self.output_format: AudioFormat = PCM16_16K
        self.conversation_id: str | None = None
        self.dropped_audio_events = 0
        """Audio events discarded because they belonged to an interrupted response."""
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._ready = asyncio.Event()
        self._start_error: BaseException | None = None
        self._reader: asyncio.Task[None] | None = None
        self._last_interruption: int | None = None
        self._turns = TurnTagger()
        self._closed = False
        self._ended = False
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "conversation_initiation_metadata": self._on_metadata,
            "audio": self._on_audio,
            "interruption": self._on_interruption,
            "agent_response": self._on_agent_response,
            "agent_response_correction": self._on_correction,
            "user_transcript": self._on_user_transcript,
            "client_tool_call": self._on_tool_call,
            "ping": self._on_ping,
        }

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self, initiation: dict[str, Any], *, timeout: float) -> None:
        """Send the initiation data, then wait for ``conversation_initiation_metadata``."""
        self._reader = asyncio.get_running_loop().create_task(self._read(), name="patter-convai-reader")
        try:
            await self._ws.send(_dumps(initiation))
        except ConnectionClosed as exc:
            code, reason = close_description(exc)
            raise ProviderConnectionError(
                f"connection closed before the conversation started (code {code} {reason})", provider=PROVIDER
            ) from exc
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            raise ProviderConnectionError(
                f"no conversation_initiation_metadata within {timeout:g} s", provider=PROVIDER
            ) from None
        if self._start_error is not None:
            raise self._start_error

    def warn_on_format_mismatch(self, carrier_in: AudioFormat, carrier_out: AudioFormat) -> None:
        """Say (once, at INFO) when the agent's formats force a conversion the agent settings could avoid."""
        if carrier_in != self.input_format or carrier_out != self.output_format:
            log.info(
                "ElevenLabs agent %s speaks %s in / %s out while the call uses %s / %s: audio is converted; "
                "set the agent's user_input_audio_format and agent_output_audio_format to match "
                "(ulaw_8000 for Twilio/Telnyx PCMU) to pass it through untouched",
                self.agent_id,
                self.input_format,
                self.output_format,
                carrier_in,
                carrier_out,
            )

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = self._ended = True
        with contextlib.suppress(Exception):
            await self._ws.close(1000, "call ended")
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        while not self._queue.empty():  # nothing queued matters once the call closed the session
            self._queue.get_nowait()
        self._queue.put_nowait(_END)

    # -- client -> server ---------------------------------------------------------------------

    async def send_audio(self, audio: bytes) -> None:
        """Caller audio in :attr:`input_format`, as ``{"user_audio_chunk": <base64>}`` (no ``type``)."""
        if audio and not self._ended:
            await self._send({"user_audio_chunk": base64.b64encode(audio).decode("ascii")})

    async def send_tool_result(self, call_id: str, output: str, *, is_error: bool | None = None) -> None:
        """Answer a ``client_tool_call``. ``is_error`` defaults to ``True`` when ``output`` looks like a
        failed tool's result: Patter's ``"error: ..."`` rendering, or a JSON object whose only key is
        ``"error"``."""
        if is_error is None:
            is_error = _looks_like_error(output)
        await self._send(
            {"type": "client_tool_result", "tool_call_id": call_id, "result": output, "is_error": is_error}
        )

    async def send_contextual_update(self, text: str) -> None:
        """Tell the agent something without interrupting it (``contextual_update``)."""
        await self._send({"type": "contextual_update", "text": text})

    async def send_user_message(self, text: str) -> None:
        """Inject a text message as if the caller had said it (``user_message``)."""
        await self._send({"type": "user_message", "text": text})

    async def send_text(self, text: str) -> None:
        """Caller-side text (keypad input ...) as ``user_message``: the agent responds to it."""
        await self.send_user_message(text)

    async def send_user_activity(self) -> None:
        """Reset the agent's inactivity timer (``user_activity``)."""
        await self._send({"type": "user_activity"})

    async def _send(self, message: dict[str, Any]) -> None:
        if self._ended:
            return
        try:
            await self._ws.send(_dumps(message))
        except ConnectionClosed:
            log.debug("dropping a %s message: the conversation is closed", message.get("type", "audio"))

    # -- server -> client ---------------------------------------------------------------------

    async def events(self) -> AsyncIterator[EngineEvent]:
        while True:
            item = await self._queue.get()
            if item is _END or isinstance(item, BaseException):
                self._queue.put_nowait(_END)  # later calls end at once too
                if isinstance(item, BaseException):
                    raise item
                return
            yield item  # type: ignore[misc]

    async def _read(self) -> None:
        error: BaseException | None = None
        try:
            while True:
                if self._turns.holding:
                    try:
                        raw = await asyncio.wait_for(self._ws.recv(), HOLD_S)
                    except TimeoutError:
                        self._emit(self._turns.flush())
                        continue
                else:
                    raw = await self._ws.recv()
                await self._handle(raw)
        except ConnectionClosed as exc:
            code, reason = close_description(exc)
            if self._closed:
                pass
            elif not self._ready.is_set():
                error = ProviderConnectionError(
                    "ElevenLabs closed the connection before the conversation started "
                    f"(code {code}: {reason}); "
                    "if the agent does not allow overriding its prompt/first message/language, enable those "
                    "overrides in the agent's security settings or pass overrides=False",
                    provider=PROVIDER,
                    code=str(code),
                    fatal=True,
                )
            elif code == 1000:
                log.info(
                    "ElevenLabs ended conversation %s (%s)", self.conversation_id, reason or "normal close"
                )
            else:
                error = ProviderConnectionError(
                    f"conversation {self.conversation_id} dropped (code {code}: {reason}); "
                    "ConvAI conversations "
                    "cannot be resumed",
                    provider=PROVIDER,
                    code=str(code),
                )
        except ConfigurationError as exc:  # unusable audio formats in the metadata
            error = exc
            with contextlib.suppress(Exception):
                await self._ws.close(1000, "unsupported audio format")
        finally:
            self._ended = True
            if not self._closed:
                self._emit(self._turns.flush())
            if not self._ready.is_set():
                self._start_error = error or ProviderConnectionError(
                    "connection ended before the conversation started", provider=PROVIDER
                )
                self._ready.set()
            elif not self._closed:
                self._queue.put_nowait(error if error is not None else _END)

    async def _handle(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            log.warning(
                "dropped a binary frame (%d bytes) from ElevenLabs: the protocol is JSON text", len(raw)
            )
            return
        try:
            message = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: JSON nested absurdly deep
            log.warning("dropped a malformed frame from ElevenLabs: %.120r", raw)
            return
        if not isinstance(message, dict):
            log.warning("dropped a non-object frame from ElevenLabs: %.120r", raw)
            return
        kind = message.get("type")
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            if not isinstance(kind, str) or (kind not in _IGNORED and not kind.startswith("internal_")):
                log.debug("ignoring ElevenLabs event type %.40r", kind)
            return
        try:
            await handler(message)
        except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
            if isinstance(exc, ConfigurationError):
                raise
            log.warning(
                "dropped a malformed %s event from ElevenLabs (%s: %s)", kind, type(exc).__name__, exc
            )

    async def _on_metadata(self, message: dict[str, Any]) -> None:
        if self._ready.is_set():
            return
        event = message["conversation_initiation_metadata_event"]
        self.input_format = format_from_name(
            event.get("user_input_audio_format", "pcm_16000"), what="user_input_audio_format"
        )
        self.output_format = format_from_name(
            event.get("agent_output_audio_format", "pcm_16000"), what="agent_output_audio_format"
        )
        conversation_id = event.get("conversation_id")
        self.conversation_id = conversation_id if isinstance(conversation_id, str) else None
        log.info(
            "ElevenLabs conversation %s started (%s in, %s out)",
            self.conversation_id,
            self.input_format,
            self.output_format,
        )
        self._ready.set()

    async def _on_audio(self, message: dict[str, Any]) -> None:
        event = message["audio_event"]
        event_id = _event_id(event["event_id"])
        audio = base64.b64decode(event["audio_base_64"], validate=True)
        if self._last_interruption is not None and event_id <= self._last_interruption:
            self.dropped_audio_events += 1
            return
        if audio:
            self._emit(self._turns.audio(event_id))
            self._queue.put_nowait(AgentAudio(audio, item_id=str(event_id)))

    async def _on_interruption(self, message: dict[str, Any]) -> None:
        event_id = _event_id(message["interruption_event"]["event_id"])
        if self._last_interruption is None or event_id > self._last_interruption:
            self._last_interruption = event_id
        self._emit(self._turns.boundary())
        self._queue.put_nowait(EngineInterrupted())

    async def _on_agent_response(self, message: dict[str, Any]) -> None:
        self._emit(self._turns.text(_text(message["agent_response_event"]["agent_response"])))

    async def _on_correction(self, message: dict[str, Any]) -> None:
        text = _text(message["agent_response_correction_event"]["corrected_agent_response"])
        self._emit(self._turns.correction(text))

    async def _on_user_transcript(self, message: dict[str, Any]) -> None:
        text = _text(message["user_transcription_event"]["user_transcript"])
        self._emit(self._turns.boundary())
        self._queue.put_nowait(CallerTranscript(text, final=True))

    async def _on_tool_call(self, message: dict[str, Any]) -> None:
        call = message["client_tool_call"]
        parameters = call.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise TypeError("client_tool_call.parameters is not an object")
        self._emit(self._turns.flush())
        self._queue.put_nowait(
            ToolCallRequested(
                call_id=_text(call["tool_call_id"]),
                name=_text(call["tool_name"]),
                arguments=json.dumps(parameters),
            )
        )

    def _emit(self, events: list[AgentTranscript]) -> None:
        for event in events:
            self._queue.put_nowait(event)

    async def _on_ping(self, message: dict[str, Any]) -> None:
        event_id = message["ping_event"]["event_id"]
        await self._send({"type": "pong", "event_id": event_id})


def _event_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"event_id must be an integer, got {value!r}")
    return int(value)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _looks_like_error(output: str) -> bool:
    """A failed tool's result as Patter renders it (``"error: ..."``) or as JSON ``{"error": ...}``."""
    if output.startswith("error: "):
        return True
    try:
        value = json.loads(output)
    except ValueError:
        return False
    return isinstance(value, dict) and set(value) == {"error"}
