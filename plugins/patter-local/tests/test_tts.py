"""LocalTTS: audible, plausible, deterministic audio in the declared format; two distinct voices."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from patter_local import LocalTTS, VoicePreset

from patter_core.audio.format import PCM16_16K, PCM16_22K
from patter_core.errors import ConfigurationError


def _pitch_hz(pcm: np.ndarray, rate: int) -> float:
    """Median fundamental frequency over loud 40 ms frames (autocorrelation)."""
    n = int(0.04 * rate)
    lo, hi = rate // 400, rate // 60
    found = []
    for start in range(0, pcm.size - n, n):
        frame = pcm[start : start + n].astype(float)
        if np.sqrt(np.mean(frame**2)) < 1500:
            continue
        corr = np.correlate(frame, frame, "full")[n - 1 :]
        found.append(rate / (lo + int(np.argmax(corr[lo:hi]))))
    return float(np.median(found))


async def _collect(tts: LocalTTS, text: str) -> list[bytes]:
    session = await tts.open_session(PCM16_22K)
    try:
        return [chunk async for chunk in session.synthesize(text)]
    finally:
        await session.aclose()


async def test_audio_is_non_silent_pcm16_22k_of_plausible_duration(agent_tts: LocalTTS) -> None:
    assert agent_tts.capabilities.output_formats == (PCM16_22K,)
    text = "You're booked for Tuesday at 3 PM. Is there anything else I can help you with?"
    chunks = await _collect(agent_tts, text)
    assert chunks and all(len(c) % 2 == 0 for c in chunks)
    pcm = np.frombuffer(b"".join(chunks), dtype="<i2")
    seconds = pcm.size / 22050
    assert 3.0 <= seconds <= 8.0  # ~15 words at 2-5 words per second
    assert np.sqrt(np.mean(pcm.astype(float) ** 2)) > 1000
    assert 0.5 * 32767 <= np.abs(pcm).max() <= 0.85 * 32767  # normalised with headroom, not clipped


async def test_sentences_stream_as_they_are_synthesised(agent_tts: LocalTTS) -> None:
    text = "Hello there. " + " ".join(f"This is sentence number {n}." for n in range(2, 8))
    stream = agent_tts.synthesize(text)
    first = await anext(stream)
    assert len(first) > 0
    rest = [chunk async for chunk in stream]
    total = len(first) + sum(map(len, rest))
    assert len(first) < total / 5  # the first sentence arrived before the others were made


async def test_closing_the_stream_early_cancels_the_rest(agent_tts: LocalTTS) -> None:
    stream = agent_tts.synthesize("One. Two. Three. Four. Five. Six.")
    await anext(stream)
    await stream.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_synthesis_does_not_block_the_event_loop(agent_tts: LocalTTS) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.002)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        await _collect(
            agent_tts, "Could you move my booking to Friday at four thirty, please? Thank you so much."
        )
    finally:
        task.cancel()
    assert ticks >= 3


async def test_empty_text_gives_no_audio(agent_tts: LocalTTS) -> None:
    assert await _collect(agent_tts, "   ") == []


def test_synthesis_is_deterministic(agent_tts: LocalTTS, caller_tts: LocalTTS) -> None:
    text = "Do you have anything available on Tuesday?"
    assert np.array_equal(agent_tts.synthesize_sync(text), agent_tts.synthesize_sync(text))
    assert np.array_equal(caller_tts.synthesize_sync(text), caller_tts.synthesize_sync(text))


def test_caller_and_agent_voices_are_distinguishable(agent_tts: LocalTTS, caller_tts: LocalTTS) -> None:
    text = "Hi, I'd like to book an appointment please. Three in the afternoon would be great."
    agent, caller = agent_tts.synthesize_sync(text), caller_tts.synthesize_sync(text)
    ratio = _pitch_hz(caller, 22050) / _pitch_hz(agent, 22050)
    assert 1.15 <= ratio <= 1.35  # the caller speaks about a quarter higher
    assert 1.0 < caller.size / agent.size < 1.2  # and a little slower


def test_speed_changes_the_duration(agent_tts: LocalTTS) -> None:
    text = "What are your opening hours on Saturday?"
    normal = agent_tts.synthesize_sync(text).size
    fast = LocalTTS(speed=1.5).synthesize_sync(text).size
    assert fast / normal == pytest.approx(1 / 1.5, rel=0.1)


async def test_bad_options_fail_early() -> None:
    with pytest.raises(ConfigurationError, match="no voice 'robot'"):
        LocalTTS(voice="robot")
    with pytest.raises(ConfigurationError, match="speed"):
        LocalTTS(speed=0)
    with pytest.raises(ConfigurationError, match="pitch"):
        LocalTTS(voice=VoicePreset(pitch=3.0))
    with pytest.raises(ConfigurationError, match="does not exist"):
        LocalTTS(model_path="/nonexistent/voice.onnx")
    with pytest.raises(ConfigurationError, match="pcm16/22050"):
        await anext(LocalTTS().synthesize("hello", PCM16_16K))


async def test_concurrent_sessions_share_the_voice_safely(agent_tts: LocalTTS, caller_tts: LocalTTS) -> None:
    texts = [
        "Hello there, how are you?",
        "Tuesday at three works.",
        "Goodbye and thanks.",
        "One moment please.",
    ]
    alone = [tts.synthesize_sync(t).tobytes() for tts in (agent_tts, caller_tts) for t in texts]
    together = await asyncio.gather(*(_collect(tts, t) for tts in (agent_tts, caller_tts) for t in texts))
    assert [b"".join(chunks) for chunks in together] == alone
