"""Contract suites: the behaviour every provider of a kind must show, as pytest classes to inherit.

A plugin's tests subclass the suite for its kind and provide fixtures that point the provider at
the plugin's fake vendor server::

    from patter_core.testing.contracts import TTSContract

    class TestMyTTS(TTSContract):
        @pytest.fixture
        async def tts(self, fake_server):
            return MyTTS(api_key="test", base_url=fake_server.base_url)

Suites: :class:`TTSContract` (fixture ``tts``), :class:`STTContract` (``stt``, ``speech``),
:class:`LLMContract` (``llm``), :class:`EngineContract` (``engine``), :class:`VADContract` (``vad``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import numpy as np

from patter_core.audio.format import AudioFormat
from patter_core.interfaces.carrier import CallInfo
from patter_core.interfaces.engine import Engine, EngineConfig
from patter_core.interfaces.llm import LLM, ChatMessage, LLMDone, Role, TextDelta
from patter_core.interfaces.stt import STT, STTConfig, Transcript
from patter_core.interfaces.tts import TTS
from patter_core.interfaces.vad import VAD, VADEventType
from patter_core.testing.audio import voice_pcm

__all__ = ["EngineContract", "LLMContract", "STTContract", "TTSContract", "VADContract"]

TIMEOUT = 10.0


async def _collect(iterator: Any, limit: int = 100_000) -> list[Any]:
    out: list[Any] = []
    async with asyncio.timeout(TIMEOUT):
        async for item in iterator:
            out.append(item)
            if len(out) >= limit:
                break
    return out


class TTSContract:
    """Provide ``tts``: a :class:`TTS` ready to synthesise (against a fake)."""

    text = "Hello, thanks for calling. How can I help?"

    async def test_declares_output_formats(self, tts: TTS) -> None:
        formats = tts.capabilities.output_formats
        assert formats and all(isinstance(f, AudioFormat) for f in formats)

    async def test_synthesises_audio_in_each_declared_format(self, tts: TTS) -> None:
        for fmt in tts.capabilities.output_formats:
            session = await tts.open_session(fmt)
            try:
                assert session.format == fmt
                audio = b"".join(await _collect(session.synthesize(self.text)))
                assert fmt.duration_ms(len(audio)) >= 100, f"no audio for {fmt}"
            finally:
                await session.aclose()

    async def test_closing_the_stream_cancels_and_the_session_stays_usable(self, tts: TTS) -> None:
        fmt = tts.capabilities.output_formats[0]
        session = await tts.open_session(fmt)
        try:
            stream = session.synthesize(self.text + " " + self.text)
            async with asyncio.timeout(TIMEOUT):
                first = await anext(stream)
            assert first
            await stream.aclose()  # type: ignore[attr-defined]
            audio = b"".join(await _collect(session.synthesize("Still here.")))
            assert audio
        finally:
            await session.aclose()
            await session.aclose()  # idempotent

    async def test_sessions_are_independent(self, tts: TTS) -> None:
        fmt = tts.capabilities.output_formats[0]
        a, b = await tts.open_session(fmt), await tts.open_session(fmt)
        try:
            results = await asyncio.gather(_collect(a.synthesize("One.")), _collect(b.synthesize("Two.")))
            assert all(b"".join(r) for r in results)
        finally:
            await a.aclose()
            await b.aclose()


class STTContract:
    """Provide ``stt`` and ``speech``: caller audio (bytes) in ``stt.capabilities.input_formats[0]``
    that the fake recognises as a non-empty utterance."""

    async def test_an_utterance_gives_one_final_end_of_utterance_transcript(
        self, stt: STT, speech: bytes
    ) -> None:
        fmt = stt.capabilities.input_formats[0]
        stream = await stt.open_stream(STTConfig(format=fmt))
        events: list[Any] = []

        async def read() -> None:
            async for event in stream.events():
                events.append(event)
                if isinstance(event, Transcript) and event.end_of_utterance:
                    return

        reader = asyncio.get_running_loop().create_task(read())
        try:
            await stream.start_of_speech()
            step = fmt.frame_bytes()
            for i in range(0, len(speech), step):
                await stream.push_audio(speech[i : i + step])
            await stream.end_of_speech()
            await asyncio.wait_for(reader, TIMEOUT)
        finally:
            reader.cancel()
            await stream.aclose()
        finals = [e for e in events if isinstance(e, Transcript) and e.end_of_utterance]
        assert len(finals) == 1
        text = " ".join(e.text for e in events if isinstance(e, Transcript) and e.final).strip()
        assert text

    async def test_close_ends_the_event_stream_and_is_idempotent(self, stt: STT) -> None:
        stream = await stt.open_stream(STTConfig(format=stt.capabilities.input_formats[0]))
        reader = asyncio.get_running_loop().create_task(_collect(stream.events()))
        await asyncio.sleep(0.05)
        await stream.aclose()
        await stream.aclose()
        await asyncio.wait_for(reader, TIMEOUT)


class LLMContract:
    """Provide ``llm``, answering a plain question with text (against a fake)."""

    async def test_streams_text_then_done(self, llm: LLM) -> None:
        messages = [ChatMessage(Role.SYSTEM, "Be brief."), ChatMessage(Role.USER, "Say hello.")]
        chunks = await _collect(llm.stream(messages))
        assert any(isinstance(c, TextDelta) and c.text for c in chunks)
        assert isinstance(chunks[-1], LLMDone)

    async def test_closing_the_stream_mid_reply_cancels_it(self, llm: LLM) -> None:
        stream = llm.stream([ChatMessage(Role.USER, "Tell me a long story.")])
        async with asyncio.timeout(TIMEOUT):
            await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]
        chunks = await _collect(llm.stream([ChatMessage(Role.USER, "Say hello.")]))
        assert isinstance(chunks[-1], LLMDone)


class EngineContract:
    """Provide ``engine`` (against a fake) and optionally ``engine_config``."""

    def make_config(self, engine: Engine) -> EngineConfig:
        fmt = engine.capabilities.input_formats[0]
        return EngineConfig(
            instructions="You are a test agent.",
            input_format=fmt,
            output_format=engine.capabilities.output_formats[0],
            call=CallInfo(call_id="CAcontract", carrier="test"),
        )

    async def test_connect_stream_audio_and_close(self, engine: Engine) -> None:
        session = await asyncio.wait_for(engine.connect(self.make_config(engine)), TIMEOUT)
        reader = asyncio.get_running_loop().create_task(_collect(session.events()))
        try:
            assert session.input_format in engine.capabilities.input_formats or session.input_format
            frame = session.input_format.frame_bytes()
            for _ in range(10):
                await session.send_audio(
                    b"\x00" * frame if session.input_format.is_linear else b"\xff" * frame
                )
        finally:
            await session.aclose()
            await session.aclose()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader, TIMEOUT)
        assert reader.done()


class VADContract:
    """Provide ``vad``."""

    async def test_silence_is_not_speech(self, vad: VAD) -> None:
        for rate in vad.capabilities.sample_rates:
            stream = vad.create_stream(rate)
            events = stream.process(np.zeros(rate, dtype=np.int16))
            assert events == [] and not stream.speaking
            stream.close()

    async def test_speech_starts_and_ends(self, vad: VAD) -> None:
        rate = vad.capabilities.sample_rates[0]
        stream = vad.create_stream(rate)
        speech = voice_pcm(800, rate)
        events = []
        frame = rate // 50
        for i in range(0, len(speech), frame):
            events += stream.process(speech[i : i + frame])
        assert stream.speaking and stream.speech_ms >= 300
        for _ in range(100):
            events += stream.process(np.zeros(frame, dtype=np.int16))
        kinds = [e.type for e in events]
        assert kinds == [VADEventType.SPEECH_START, VADEventType.SPEECH_END]
        assert not stream.speaking and stream.speech_ms == 0
        end = events[1]
        assert end.at_ms <= 850  # the end of speech, not the detection point
        stream.close()

    async def test_streams_are_independent(self, vad: VAD) -> None:
        rate = vad.capabilities.sample_rates[0]
        a, b = vad.create_stream(rate), vad.create_stream(rate)
        speech = voice_pcm(500, rate)
        frame = rate // 50
        for i in range(0, len(speech), frame):
            a.process(speech[i : i + frame])
            b.process(np.zeros(frame, dtype=np.int16))
        assert a.speaking and not b.speaking
