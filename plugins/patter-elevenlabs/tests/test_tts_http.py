"""ElevenLabsTTS over HTTP streaming (``POST /v1/text-to-speech/{voice_id}/stream``), against the fake."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from patter_elevenlabs import ElevenLabsTTS, format_name
from patter_elevenlabs.testing import FakeElevenLabsTTSServer

from patter_core.audio.format import MULAW_8K, PCM16_16K, PCM16_24K, AudioFormat
from patter_core.errors import ProviderConnectionError, ProviderError
from patter_core.interfaces.tts import TTSSession


def tts_for(fake: FakeElevenLabsTTSServer, **kwargs: Any) -> ElevenLabsTTS:
    kwargs.setdefault("api_key", fake.api_key)
    return ElevenLabsTTS(voice_id="voice1", base_url=fake.base_url, transport="http", **kwargs)


async def synth(session: TTSSession, text: str) -> list[bytes]:
    async with asyncio.timeout(5):
        return [chunk async for chunk in session.synthesize(text)]


@pytest.mark.parametrize("fmt", ElevenLabsTTS.capabilities.output_formats, ids=str)
async def test_each_output_format(fmt: AudioFormat) -> None:
    async with FakeElevenLabsTTSServer(speed=0) as fake:
        session = await tts_for(fake).open_session(fmt)
        audio = b"".join(await synth(session, "Hello there."))
        await session.aclose()
    assert fake.http_requests[0].query == {"output_format": format_name(fmt)}
    assert audio == fake.render("Hello there.", fmt)


async def test_request_shape_and_odd_chunks_are_yielded_as_they_come() -> None:
    settings = {"stability": 0.4, "speed": 1.1}
    async with FakeElevenLabsTTSServer(speed=0, chunk_ms=20) as fake:
        tts = tts_for(
            fake,
            voice_settings=settings,
            optimize_streaming_latency=2,
            language_code="de",
            model_id="eleven_v3",
            enable_logging=False,
        )
        session = await tts.open_session(PCM16_24K)
        chunks = await synth(session, " Guten Tag. ")
        await session.aclose()
    request = fake.http_requests[0]
    assert request.voice_id == "voice1" and request.headers["xi-api-key"] == "test-key"
    assert request.query == {
        "output_format": "pcm_24000",
        "optimize_streaming_latency": "2",
        "enable_logging": "false",
    }
    assert request.body == {
        "text": "Guten Tag.",
        "model_id": "eleven_v3",
        "voice_settings": settings,
        "language_code": "de",
    }
    assert any(len(c) % 2 for c in chunks)  # odd byte counts reach the session untouched
    assert b"".join(chunks) == fake.render("Guten Tag.", PCM16_24K)


async def test_stateless_synthesize() -> None:
    async with FakeElevenLabsTTSServer(speed=0) as fake:
        tts = tts_for(fake)
        async with asyncio.timeout(5):
            audio = b"".join([c async for c in tts.synthesize("One shot.", MULAW_8K)])
    assert audio == fake.render("One shot.", MULAW_8K)


async def test_websocket_tts_can_still_synthesize_statelessly() -> None:
    async with FakeElevenLabsTTSServer(speed=0) as fake:
        tts = ElevenLabsTTS(voice_id="voice1", base_url=fake.base_url, api_key=fake.api_key)
        async with asyncio.timeout(5):
            audio = b"".join([c async for c in tts.synthesize("One shot.", MULAW_8K)])
    assert audio == fake.render("One shot.", MULAW_8K) and fake.connections == []


@pytest.mark.parametrize(("status", "match"), [(500, "HTTP 500"), (429, "HTTP 429"), (422, "injected 422")])
async def test_http_errors(status: int, match: str) -> None:
    async with FakeElevenLabsTTSServer(speed=0) as fake:
        session = await tts_for(fake).open_session(MULAW_8K)
        fake.http_status_next = status
        with pytest.raises(ProviderError, match=match):
            await synth(session, "Hello.")
        assert b"".join(await synth(session, "Hello.")) == fake.render("Hello.", MULAW_8K)
        await session.aclose()


async def test_a_wrong_key_names_the_fix() -> None:
    async with FakeElevenLabsTTSServer(speed=0) as fake:
        session = await tts_for(fake, api_key="nope").open_session(MULAW_8K)
        with pytest.raises(ProviderError, match=r"401.*api_key=") as info:
            await synth(session, "Hello.")
        assert info.value.fatal
        await session.aclose()


async def test_a_drop_mid_stream_raises_connection_error() -> None:
    async with FakeElevenLabsTTSServer(speed=0, chunk_ms=20) as fake:
        session = await tts_for(fake).open_session(MULAW_8K)
        fake.drop_next_after_chunks = 2
        got: list[bytes] = []
        with pytest.raises(ProviderConnectionError):
            async with asyncio.timeout(5):
                async for chunk in session.synthesize("This one breaks off."):
                    got.append(chunk)
        assert got  # audio already played is not re-sent by a retry
        await session.aclose()


async def test_a_drop_before_any_audio_is_retried_once() -> None:
    async with FakeElevenLabsTTSServer(speed=0) as fake:
        session = await tts_for(fake).open_session(MULAW_8K)
        fake.drop_next_after_chunks = 0
        audio = b"".join(await synth(session, "Again."))
        await session.aclose()
    assert audio == fake.render("Again.", MULAW_8K) and len(fake.http_requests) == 2


async def test_cancelling_mid_stream_then_next_sentence() -> None:
    async with FakeElevenLabsTTSServer(speed=1.0, chunk_ms=20, ms_per_char=40) as fake:
        session = await tts_for(fake).open_session(PCM16_16K)
        stream = session.synthesize("A long answer that the caller is going to interrupt right away.")
        async with asyncio.timeout(5):
            async for _ in stream:
                break
            await stream.aclose()  # type: ignore[attr-defined]
        assert b"".join(await synth(session, "Go ahead.")) == fake.render("Go ahead.", PCM16_16K)
        await session.aclose()
        with pytest.raises(ProviderError, match="closed"):
            await synth(session, "Too late.")
