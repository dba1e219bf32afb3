"""Whole-utterance recognisers behind the streaming STT interface.

Some recognisers (an HTTP transcription endpoint, a local model) take a complete utterance, not a
stream. :class:`BufferedSTT` adapts them: the stream keeps a short pre-roll of audio, collects from
the session VAD's speech start to its speech end (so words are never split by fixed windows), and then
transcribes the utterance once, in order, emitting a final end-of-utterance :class:`Transcript`.

Subclasses implement :meth:`BufferedSTT.transcribe`; CPU-heavy ones must run their model off the event
loop (``await asyncio.to_thread(...)``).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator

from patter_core.audio.format import PCM16_16K, AudioFormat
from patter_core.interfaces.stt import STT, STTCapabilities, STTConfig, STTEvent, STTStream, Transcript

__all__ = ["BufferedSTT", "BufferedSTTStream"]

log = logging.getLogger("patter.stt")
_CLOSED = object()


class BufferedSTT(STT):
    """Base class for recognisers that transcribe whole utterances."""

    capabilities = STTCapabilities(input_formats=(PCM16_16K,), streaming=False, endpointing=False)
    pre_roll_ms: int = 300
    """Audio kept from before the VAD's speech start (VADs fire a little after speech begins)."""
    max_utterance_ms: int = 30_000
    """An utterance longer than this is transcribed in pieces of this length."""

    @abc.abstractmethod
    async def transcribe(self, audio: bytes, format: AudioFormat, *, language: str | None = None) -> str:
        """Text of one utterance of ``audio`` (in ``format``); empty when nothing intelligible."""

    async def open_stream(self, config: STTConfig) -> STTStream:
        return BufferedSTTStream(self, config)


class BufferedSTTStream(STTStream):
    """One call's buffering state; transcriptions run one at a time, in order."""

    def __init__(self, stt: BufferedSTT, config: STTConfig) -> None:
        self._stt = stt
        self._config = config
        self._fmt = config.format
        self._pre_roll: deque[bytes] = deque()
        self._pre_roll_bytes = 0
        self._pre_roll_limit = self._fmt.bytes_for_ms(stt.pre_roll_ms)
        self._limit = self._fmt.bytes_for_ms(stt.max_utterance_ms)
        self._utterance: bytearray | None = None
        self._jobs: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._events: asyncio.Queue[STTEvent | object] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    async def push_audio(self, audio: bytes) -> None:
        if self._closed or not audio:
            return
        if self._utterance is None:
            self._pre_roll.append(audio)
            self._pre_roll_bytes += len(audio)
            while self._pre_roll_bytes - len(self._pre_roll[0]) >= self._pre_roll_limit:
                self._pre_roll_bytes -= len(self._pre_roll.popleft())
            return
        self._utterance += audio
        if len(self._utterance) >= self._limit:
            self._submit(bytes(self._utterance), final=False)
            self._utterance = bytearray()

    async def start_of_speech(self) -> None:
        if self._closed or self._utterance is not None:
            return
        self._utterance = bytearray(b"".join(self._pre_roll))
        self._pre_roll.clear()
        self._pre_roll_bytes = 0

    async def end_of_speech(self) -> None:
        if self._closed or self._utterance is None:
            return
        audio, self._utterance = bytes(self._utterance), None
        self._submit(audio, final=True)

    def _submit(self, audio: bytes, *, final: bool) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="patter-stt-transcribe")
        if audio:
            self._jobs.put_nowait(audio)
        if final:
            self._jobs.put_nowait(None)

    async def _work(self) -> None:
        pieces: list[str] = []
        while True:
            audio = await self._jobs.get()
            if audio is None:  # end of utterance marker
                text = " ".join(p for p in pieces if p).strip()
                pieces = []
                self._events.put_nowait(Transcript(text=text, final=True, end_of_utterance=True))
                continue
            try:
                pieces.append(
                    (await self._stt.transcribe(audio, self._fmt, language=self._config.language)).strip()
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("transcription failed; the utterance is dropped")

    async def events(self) -> AsyncIterator[STTEvent]:
        while True:
            item = await self._events.get()
            if item is _CLOSED:
                return
            assert isinstance(item, Transcript)
            yield item

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._events.put_nowait(_CLOSED)
