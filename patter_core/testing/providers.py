"""Scripted pipeline providers: speech-to-text, language model, text-to-speech and VAD fakes.

* :class:`FakeSTT` -- a streaming recogniser that answers each utterance (from the session VAD's
  speech start to its end) with the next scripted transcript;
* :class:`FakeLLM` -- replies from a script of turns (text pieces and tool calls), or from a
  function of the conversation; records every request;
* :class:`FakeTTS` -- audio whose length follows the text (a voice-like tone), in the requested
  format, chunk by chunk; records what it was asked to say and what was cancelled;
* :class:`FakeVAD` -- deterministic: a frame is speech when its level is above a threshold.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from patter_core.audio.format import MULAW_8K, PCM16_16K, AudioFormat
from patter_core.interfaces.llm import (
    LLM,
    ChatMessage,
    LLMChunk,
    LLMDone,
    TextDelta,
    ToolCallRequest,
    ToolSpec,
)
from patter_core.interfaces.stt import STT, STTCapabilities, STTConfig, STTEvent, STTStream, Transcript
from patter_core.interfaces.tts import TTS, TTSCapabilities
from patter_core.interfaces.vad import VAD, VADCapabilities, VADEvent, VADEventType, VADStream
from patter_core.testing.audio import voice

__all__ = ["FakeLLM", "FakeSTT", "FakeSTTStream", "FakeTTS", "FakeVAD", "ToolCall"]

_CLOSE = object()


# -- STT -----------------------------------------------------------------------------------------


class FakeSTTStream(STTStream):
    def __init__(self, stt: FakeSTT, config: STTConfig) -> None:
        self.stt = stt
        self.config = config
        self.audio = bytearray()
        self.utterances = 0
        self.closed = False
        self._events: asyncio.Queue[STTEvent | object] = asyncio.Queue()

    async def push_audio(self, audio: bytes) -> None:
        self.audio += audio

    async def start_of_speech(self) -> None:
        pass

    async def end_of_speech(self) -> None:
        text = self.stt.next_transcript()
        self.utterances += 1
        if text is None:
            return
        if self.stt.interim:
            self._events.put_nowait(Transcript(text=text.split()[0] if text.split() else "", final=False))
        self._events.put_nowait(Transcript(text=text, final=True, end_of_utterance=True))

    def emit(self, event: STTEvent | BaseException) -> None:
        self._events.put_nowait(event)

    async def events(self) -> AsyncIterator[STTEvent]:
        while True:
            event = await self._events.get()
            if event is _CLOSE:
                return
            if isinstance(event, BaseException):
                raise event
            yield event  # type: ignore[misc]

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            self._events.put_nowait(_CLOSE)


class FakeSTT(STT):
    def __init__(
        self,
        transcripts: Sequence[str] = (),
        *,
        input_formats: tuple[AudioFormat, ...] = (PCM16_16K,),
        interim: bool = False,
    ) -> None:
        self.capabilities = STTCapabilities(input_formats=input_formats, streaming=True, endpointing=False)
        self._script = list(transcripts)
        self.interim = interim
        self.streams: list[FakeSTTStream] = []

    def next_transcript(self) -> str | None:
        return self._script.pop(0) if self._script else None

    async def open_stream(self, config: STTConfig) -> FakeSTTStream:
        stream = FakeSTTStream(self, config)
        self.streams.append(stream)
        return stream

    @property
    def stream(self) -> FakeSTTStream:
        return self.streams[-1]


# -- LLM -----------------------------------------------------------------------------------------


class ToolCall:
    """A scripted tool call inside a :class:`FakeLLM` turn."""

    _ids = itertools.count(1)

    def __init__(self, name: str, arguments: dict[str, Any] | None = None) -> None:
        self.name = name
        self.arguments = arguments or {}
        self.call_id = f"call_{next(self._ids)}"

    def request(self) -> ToolCallRequest:
        return ToolCallRequest(call_id=self.call_id, name=self.name, arguments=json.dumps(self.arguments))


Turn = Sequence["str | ToolCall"]
Responder = Callable[[Sequence[ChatMessage], Sequence[ToolSpec]], Turn]


class FakeLLM(LLM):
    """Each request consumes the next scripted turn (or asks ``responder``); text is streamed word by word."""

    def __init__(
        self, turns: Sequence[Turn] = (), *, responder: Responder | None = None, delay_s: float = 0.0
    ) -> None:
        self._turns = [list(t) for t in turns]
        self._responder = responder
        self.delay_s = delay_s
        self.requests: list[tuple[list[ChatMessage], list[ToolSpec]]] = []
        self.cancelled = 0

    async def stream(
        self, messages: Sequence[ChatMessage], *, tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[LLMChunk]:
        self.requests.append((list(messages), list(tools)))
        if self._responder is not None:
            turn = list(self._responder(messages, tools))
        else:
            turn = self._turns.pop(0) if self._turns else ["I'm not sure what to say."]
        finished = False
        try:
            for part in turn:
                if isinstance(part, ToolCall):
                    yield part.request()
                    continue
                for word in _pieces(part):
                    if self.delay_s:
                        await asyncio.sleep(self.delay_s)
                    yield TextDelta(word)
            finished = True
            yield LLMDone(
                finish_reason="tool_calls" if any(isinstance(p, ToolCall) for p in turn) else "stop"
            )
        finally:
            if not finished:
                self.cancelled += 1


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


# -- TTS -----------------------------------------------------------------------------------------


class FakeTTS(TTS):
    def __init__(
        self,
        *,
        output_formats: tuple[AudioFormat, ...] = (MULAW_8K, PCM16_16K),
        ms_per_word: float = 150.0,
        chunk_ms: float = 40.0,
        delay_s: float = 0.0,
        odd_chunks: bool = False,
    ) -> None:
        self.capabilities = TTSCapabilities(output_formats=output_formats)
        self.ms_per_word = ms_per_word
        self.chunk_ms = chunk_ms
        self.delay_s = delay_s
        self.odd_chunks = odd_chunks
        self.texts: list[str] = []
        self.formats: list[AudioFormat] = []
        self.cancelled: list[str] = []

    async def synthesize(self, text: str, format: AudioFormat) -> AsyncIterator[bytes]:
        self.texts.append(text)
        self.formats.append(format)
        audio = voice(max(1, len(text.split())) * self.ms_per_word, format, pitch_hz=220.0)
        step = format.bytes_for_ms(self.chunk_ms) + (1 if self.odd_chunks else 0)
        done = False
        try:
            for start in range(0, len(audio), step):
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                yield audio[start : start + step]
            done = True
        finally:
            if not done:
                self.cancelled.append(text)


# -- VAD -----------------------------------------------------------------------------------------


class _FakeVADStream(VADStream):
    def __init__(self, sample_rate: int, threshold: int, start_ms: float, end_ms: float) -> None:
        self.rate = sample_rate
        self.threshold = threshold
        self.start_ms = start_ms
        self.end_ms = end_ms
        self._pos = 0.0
        self._speaking = False
        self._run_start = 0.0
        self._voiced_ms = 0.0
        self._quiet_ms = 0.0
        self._last_voice = 0.0

    def process(self, pcm: npt.NDArray[np.int16]) -> list[VADEvent]:
        events: list[VADEvent] = []
        if len(pcm) == 0:
            return events
        ms = 1000 * len(pcm) / self.rate
        loud = float(np.max(np.abs(pcm.astype(np.int32)))) >= self.threshold
        if loud:
            if self._voiced_ms == 0:
                self._run_start = self._pos
            self._voiced_ms += ms
            self._quiet_ms = 0.0
            self._last_voice = self._pos + ms
            if not self._speaking and self._voiced_ms >= self.start_ms:
                self._speaking = True
                events.append(VADEvent(VADEventType.SPEECH_START, at_ms=self._run_start))
        else:
            self._quiet_ms += ms
            if not self._speaking:
                self._voiced_ms = 0.0
            elif self._quiet_ms >= self.end_ms:
                self._speaking = False
                events.append(
                    VADEvent(
                        VADEventType.SPEECH_END,
                        at_ms=self._last_voice,
                        speech_ms=self._last_voice - self._run_start,
                    )
                )
                self._voiced_ms = 0.0
        self._pos += ms
        return events

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def speech_ms(self) -> float:
        return (
            self._pos - self._run_start
            if self._speaking and self._quiet_ms == 0
            else (self._voiced_ms if self._speaking else 0.0)
        )

    def reset(self) -> None:
        self._speaking = False
        self._voiced_ms = self._quiet_ms = 0.0


class FakeVAD(VAD):
    capabilities = VADCapabilities(sample_rates=(8000, 16000, 24000))

    def __init__(self, *, threshold: int = 1000, start_ms: float = 40.0, end_ms: float = 300.0) -> None:
        self.threshold = threshold
        self.start_ms = start_ms
        self.end_ms = end_ms

    def create_stream(self, sample_rate: int) -> VADStream:
        return _FakeVADStream(sample_rate, self.threshold, self.start_ms, self.end_ms)
