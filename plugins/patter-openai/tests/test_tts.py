"""OpenAITTS against the /audio/speech fake: streamed PCM 24 kHz, cancellable."""

from __future__ import annotations

import asyncio

import pytest
from patter_openai import OpenAITTS
from patter_openai.testing import FakeOpenAIHTTP

from patter_core.audio.format import MULAW_8K, PCM16_24K
from patter_core.errors import ConfigurationError, ProviderError


async def test_first_audio_arrives_before_synthesis_ends(fake_http: FakeOpenAIHTTP, api_key: str) -> None:
    gate = asyncio.Event()
    fake_http.speech_gate = gate
    tts = OpenAITTS(
        api_key=api_key, base_url=fake_http.base_url, voice="coral", instructions="Warm and calm.", speed=1.1
    )
    assert tts.capabilities.output_formats == (PCM16_24K,)
    stream = tts.synthesize("Hello, thanks for calling Acme.", PCM16_24K)
    first = await anext(stream)
    request = fake_http.requests[-1]
    assert first and not request.completed  # the fake is still holding the rest of the body
    gate.set()
    rest = [chunk async for chunk in stream]
    total = len(first) + sum(map(len, rest))
    assert (
        total == int(24000 * 60 * len("Hello, thanks for calling Acme.") / 1000) * 2
    )  # the fake's 60 ms/char
    assert len(rest) >= 1 and request.completed
    assert request.json() == {
        "model": "gpt-4o-mini-tts",
        "voice": "coral",
        "input": "Hello, thanks for calling Acme.",
        "response_format": "pcm",
        "instructions": "Warm and calm.",
        "speed": 1.1,
    }
    await tts.aclose()


async def test_closing_the_stream_stops_the_request(fake_http: FakeOpenAIHTTP, api_key: str) -> None:
    fake_http.speech_gate = asyncio.Event()
    tts = OpenAITTS(api_key=api_key, base_url=fake_http.base_url)
    session = await tts.open_session(PCM16_24K)
    stream = session.synthesize("A sentence the caller interrupts.")
    await anext(stream)
    await stream.aclose()
    request = fake_http.requests[-1]
    await asyncio.wait_for(request.finished.wait(), 2)
    assert request.disconnected and not request.completed


async def test_supplied_audio_is_forwarded_byte_exact(api_key: str) -> None:
    pcm = bytes(range(256)) * 40
    async with FakeOpenAIHTTP(speech_audio=pcm, speech_chunk_bytes=1001) as fake:
        tts = OpenAITTS(api_key=api_key, base_url=fake.base_url)
        chunks = [c async for c in tts.synthesize("x", PCM16_24K)]
    assert b"".join(chunks) == pcm


async def test_bad_requests_fail_clearly(fake_http: FakeOpenAIHTTP, api_key: str) -> None:
    tts = OpenAITTS(api_key=api_key, base_url=fake_http.base_url)
    with pytest.raises(ConfigurationError, match="pcm16/24000"):
        [c async for c in tts.synthesize("hi", MULAW_8K)]
    assert [c async for c in tts.synthesize("   ", PCM16_24K)] == []
    assert fake_http.requests == []
    fake_http.fail_next("/v1/audio/speech", 500)
    with pytest.raises(ProviderError, match="HTTP 500"):
        [c async for c in tts.synthesize("hi", PCM16_24K)]


def test_options_are_validated() -> None:
    with pytest.raises(ConfigurationError, match="unknown OpenAI voice"):
        OpenAITTS(api_key="k", voice="robot")
    with pytest.raises(ConfigurationError, match="tts-1 does not take instructions"):
        OpenAITTS(api_key="k", model="tts-1", instructions="Be happy")
    with pytest.raises(ConfigurationError, match="speed"):
        OpenAITTS(api_key="k", speed=5)
    assert OpenAITTS(api_key="k", voice="voice_custom123").voice == "voice_custom123"
