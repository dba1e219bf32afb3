"""WhisperSTT: whole utterances, resampled once to 16 kHz, uploaded as WAV; VAD-segmented via BufferedSTT."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from patter_openai import WhisperSTT
from patter_openai.testing import FakeOpenAIHTTP

from patter_core.audio import resample_offline, ulaw_decode, ulaw_encode
from patter_core.audio.format import MULAW_8K, PCM16_16K
from patter_core.errors import ProviderError
from patter_core.interfaces.stt import STTConfig, Transcript
from patter_core.providers import BufferedSTT


def tone(ms: int, rate: int) -> np.ndarray:
    t = np.arange(int(rate * ms / 1000)) / rate
    return (np.sin(2 * np.pi * 300 * t) * 8000).astype(np.int16)


async def test_pcm16_utterance_is_uploaded_as_16k_wav(fake_http: FakeOpenAIHTTP, api_key: str) -> None:
    fake_http.transcripts.append("  I need help with my order ")
    stt = WhisperSTT(api_key=api_key, base_url=fake_http.base_url, language="en-US", prompt="Acme")
    assert isinstance(stt, BufferedSTT)
    pcm = tone(800, 16000).tobytes()
    text = await stt.transcribe(pcm, PCM16_16K)
    assert text == "I need help with my order"
    [upload] = fake_http.uploads
    assert upload.wav_ok and (upload.sample_rate, upload.channels, upload.sample_width) == (16000, 1, 2)
    assert upload.frames == 12800 and upload.data.endswith(pcm)
    assert upload.filename == "utterance.wav" and upload.content_type == "audio/wav"
    assert upload.fields == {
        "model": "whisper-1",
        "response_format": "json",
        "language": "en",
        "prompt": "Acme",
    }
    await stt.aclose()


async def test_mulaw_utterance_is_resampled_once_at_high_quality(
    fake_http: FakeOpenAIHTTP, api_key: str
) -> None:
    stt = WhisperSTT(api_key=api_key, base_url=fake_http.base_url, model="gpt-4o-mini-transcribe")
    mulaw = ulaw_encode(tone(500, 8000))
    assert await stt.transcribe(mulaw, MULAW_8K, language="fr") == "hello"
    [upload] = fake_http.uploads
    assert (upload.sample_rate, upload.frames) == (16000, 8000)
    expected = resample_offline(ulaw_decode(mulaw), 8000, 16000).astype("<i2").tobytes()
    assert upload.data.endswith(expected)
    assert upload.fields["model"] == "gpt-4o-mini-transcribe" and upload.fields["language"] == "fr"


async def test_vad_segmented_stream(fake_http: FakeOpenAIHTTP, api_key: str) -> None:
    fake_http.transcripts.extend(["first utterance", "second utterance"])
    stt = WhisperSTT(api_key=api_key, base_url=fake_http.base_url)
    stream = await stt.open_stream(STTConfig(format=PCM16_16K, language="en"))
    frame = tone(20, 16000).tobytes()
    events: list = []
    two = asyncio.Event()

    async def read() -> None:
        async for event in stream.events():
            events.append(event)
            if len(events) == 2:
                two.set()

    reader = asyncio.get_running_loop().create_task(read())
    for _ in range(2):
        for _ in range(10):
            await stream.push_audio(b"\x00" * 640)  # silence before speech: pre-roll only
        await stream.start_of_speech()
        for _ in range(25):
            await stream.push_audio(frame)
        await stream.end_of_speech()
    await asyncio.wait_for(two.wait(), 5)
    assert events == [
        Transcript("first utterance", final=True, end_of_utterance=True),
        Transcript("second utterance", final=True, end_of_utterance=True),
    ]
    # one upload per utterance: 500 ms of speech after the 200 ms of pre-roll pushed before it
    assert [u.frames for u in fake_http.uploads] == [11200, 11200]
    await stream.aclose()
    await asyncio.wait_for(reader, 2)


async def test_blips_are_not_sent(fake_http: FakeOpenAIHTTP, api_key: str) -> None:
    stt = WhisperSTT(api_key=api_key, base_url=fake_http.base_url)
    assert await stt.transcribe(b"\x00" * 3000, PCM16_16K) == ""  # < 100 ms
    assert fake_http.requests == []


async def test_errors_are_provider_errors(fake_http: FakeOpenAIHTTP, api_key: str) -> None:
    stt = WhisperSTT(api_key=api_key, base_url=fake_http.base_url)
    fake_http.fail_next("/v1/audio/transcriptions", 400, {"message": "Audio file is too short", "type": "x"})
    with pytest.raises(ProviderError, match="too short"):
        await stt.transcribe(tone(500, 16000).tobytes(), PCM16_16K)
