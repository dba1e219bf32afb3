"""A scripted speech-to-speech engine for testing the session loop without a vendor.

The test drives it: ``await session.speak("Hello!")`` streams agent audio (a voice-like tone whose
length follows the text) for a new item, its transcript and a ``ResponseDone``; ``session.caller_starts()``
emits the engine's own barge-in signal; ``session.call_tool(...)`` requests a tool. Everything the
session sends back is recorded: audio bytes, truncations, tool results, cancels, ``say`` texts.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

from patter_core.audio.format import MULAW_8K, PCM16_16K, AudioFormat
from patter_core.errors import ProviderConnectionError
from patter_core.interfaces.engine import (
    AgentAudio,
    AgentTranscript,
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerTranscript,
    Engine,
    EngineCapabilities,
    EngineConfig,
    EngineEvent,
    EngineSession,
    ResponseDone,
    ResponseStarted,
    ToolCallRequested,
)
from patter_core.testing.audio import voice

__all__ = ["FakeEngine", "FakeEngineSession"]

_CLOSE = object()


class FakeEngineSession(EngineSession):
    def __init__(self, engine: FakeEngine, config: EngineConfig) -> None:
        self.engine = engine
        self.config = config
        accepted = engine.capabilities.input_formats
        self.input_format = config.input_format if config.input_format in accepted else accepted[0]
        produced = engine.capabilities.output_formats
        self.output_format = config.output_format if config.output_format in produced else produced[0]
        self.audio_in = bytearray()
        self.truncations: list[tuple[str, int]] = []
        self.tool_results: list[tuple[str, str]] = []
        self.said: list[str] = []
        self.texts: list[str] = []
        self.cancels = 0
        self.closed = False
        self.delivered_ms: dict[str, float] = {}
        self._events: asyncio.Queue[EngineEvent | object] = asyncio.Queue()
        self._items = itertools.count(1)
        self._tool_result = asyncio.Event()

    # -- EngineSession -------------------------------------------------------------------------

    async def send_audio(self, audio: bytes) -> None:
        if self.closed:
            raise ProviderConnectionError("fake engine session is closed", provider="fake")
        self.audio_in += audio

    async def events(self) -> AsyncIterator[EngineEvent]:
        while True:
            event = await self._events.get()
            if event is _CLOSE:
                return
            if isinstance(event, BaseException):
                raise event
            yield event  # type: ignore[misc]

    async def send_tool_result(self, call_id: str, output: str, *, is_error: bool = False) -> None:
        self.tool_results.append((call_id, output))
        self._tool_result.set()
        reply = self.engine.after_tool
        if reply is not None:
            asyncio.get_running_loop().create_task(self.speak(reply))

    async def truncate(self, item_id: str, audio_end_ms: int) -> None:
        delivered = self.delivered_ms.get(item_id)
        if delivered is None:
            raise AssertionError(f"truncate of unknown item {item_id}")
        if audio_end_ms > delivered + 1e-6:
            raise AssertionError(f"truncate past the audio delivered ({audio_end_ms} > {delivered})")
        self.truncations.append((item_id, audio_end_ms))

    async def cancel_response(self) -> None:
        self.cancels += 1

    async def say(self, text: str) -> None:
        self.said.append(text)
        asyncio.get_running_loop().create_task(self.speak(text))

    async def send_text(self, text: str) -> None:
        self.texts.append(text)

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            self._events.put_nowait(_CLOSE)

    # -- the test's side -----------------------------------------------------------------------

    def emit(self, event: EngineEvent | BaseException) -> None:
        self._events.put_nowait(event)

    def end_conversation(self) -> None:
        """The engine closes the conversation normally."""
        self._events.put_nowait(_CLOSE)

    def fail(self, message: str = "socket dropped") -> None:
        self._events.put_nowait(ProviderConnectionError(message, provider="fake"))

    async def speak(
        self, text: str, *, ms_per_word: float = 200.0, chunk_ms: float = 40.0, realtime: bool = False
    ) -> str:
        """Stream one agent item: audio proportional to the text, transcript deltas, then done."""
        item = f"item_{next(self._items)}"
        fmt = self.output_format
        audio = voice(max(1, len(text.split())) * ms_per_word, fmt)
        step = fmt.bytes_for_ms(chunk_ms)
        self.emit(ResponseStarted(response_id=f"resp_{item}"))
        words = text.split()
        for i, start in enumerate(range(0, len(audio), step)):
            chunk = audio[start : start + step]
            self.delivered_ms[item] = self.delivered_ms.get(item, 0.0) + fmt.duration_ms(len(chunk))
            self.emit(AgentAudio(chunk, item_id=item))
            if i < len(words):
                self.emit(AgentTranscript(words[i] + " ", item_id=item))
            if realtime:
                await asyncio.sleep(chunk_ms / 1000)
            else:
                await asyncio.sleep(0)
        self.emit(AgentTranscript(text, item_id=item, final=True))
        self.emit(ResponseDone(response_id=f"resp_{item}"))
        return item

    def caller_starts(self) -> None:
        self.emit(CallerSpeechStarted())

    def caller_says(self, text: str) -> None:
        self.emit(CallerSpeechStopped())
        self.emit(CallerTranscript(text))

    def call_tool(self, name: str, arguments: dict[str, Any] | None = None, call_id: str = "call_1") -> None:
        self.emit(ToolCallRequested(call_id=call_id, name=name, arguments=json.dumps(arguments or {})))
        self.emit(ResponseDone())

    async def wait_tool_result(self, timeout: float = 5.0) -> tuple[str, str]:
        await asyncio.wait_for(self._tool_result.wait(), timeout)
        self._tool_result.clear()
        return self.tool_results[-1]


class FakeEngine(Engine):
    """Configuration + the sessions it opened (``engine.sessions[-1]`` is the current call's)."""

    def __init__(
        self,
        *,
        input_formats: tuple[AudioFormat, ...] = (MULAW_8K, PCM16_16K),
        output_formats: tuple[AudioFormat, ...] = (MULAW_8K, PCM16_16K),
        speak_first_message: bool = True,
        after_tool: str | None = None,
        fail_connect: bool = False,
        truncate: bool = True,
        connect_delay: float = 0.0,
    ) -> None:
        self.capabilities = EngineCapabilities(
            input_formats=input_formats, output_formats=output_formats, truncate=truncate
        )
        self.speak_first_message = speak_first_message
        self.after_tool = after_tool
        self.fail_connect = fail_connect
        self.connect_delay = connect_delay
        self.sessions: list[FakeEngineSession] = []
        self.connected = asyncio.Event()

    async def connect(self, config: EngineConfig) -> FakeEngineSession:
        if self.connect_delay:
            await asyncio.sleep(self.connect_delay)
        if self.fail_connect:
            raise ProviderConnectionError("could not connect to the fake engine", provider="fake")
        session = FakeEngineSession(self, config)
        self.sessions.append(session)
        self.connected.set()
        if config.first_message and self.speak_first_message:
            asyncio.get_running_loop().create_task(session.speak(config.first_message))
        return session

    @property
    def session(self) -> FakeEngineSession:
        return self.sessions[-1]
