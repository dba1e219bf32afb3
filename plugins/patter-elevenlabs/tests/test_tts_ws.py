"""ElevenLabsTTS over the stream-input WebSocket, against the fake (PROTOCOLS.md section 6.3)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest
from patter_elevenlabs import ElevenLabsTTS, format_name
from patter_elevenlabs._tts_ws import WebSocketTTSSession
from patter_elevenlabs.testing import FakeElevenLabsTTSServer

from patter_core.audio.format import MULAW_8K, PCM16_16K, AudioFormat
from patter_core.errors import ConfigurationError, ProviderConnectionError, ProviderError
from patter_core.interfaces.tts import TTSSession

SETTINGS = {"stability": 0.5, "similarity_boost": 0.8}


def tts_for(fake: FakeElevenLabsTTSServer, **kwargs: Any) -> ElevenLabsTTS:
    kwargs.setdefault("api_key", fake.api_key)
    return ElevenLabsTTS(voice_id="voice1", base_url=fake.base_url, **kwargs)


async def synth(session: TTSSession, text: str) -> list[bytes]:
    async with asyncio.timeout(5):
        return [chunk async for chunk in session.synthesize(text)]


async def wait_until(predicate: Any, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("fmt", ElevenLabsTTS.capabilities.output_formats, ids=str)
async def test_each_output_format(fmt: AudioFormat) -> None:
    async with FakeElevenLabsTTSServer(speed=0) as fake:
        session = await tts_for(fake).open_session(fmt)
        audio = b"".join(await synth(session, "Hello there."))
        await session.aclose()
    assert fake.connections[0].query["output_format"] == format_name(fmt)
    assert audio == fake.render("Hello there.", fmt)


async def test_one_prewarmed_connection_per_sentence() -> None:
    async with FakeElevenLabsTTSServer(speed=0) as fake:
        tts = tts_for(fake, voice_settings=SETTINGS, optimize_streaming_latency=3, language_code="en")
        session = await tts.open_session(MULAW_8K)
        await wait_until(lambda: len(fake.connections) == 1)  # opened before any text is known
        first = await synth(session, "  Hello there.  ")
        second = await synth(session, "How can I help?")
        await wait_until(lambda: len(fake.connections) == 3)  # the next sentence's spare
        await session.aclose()
        await wait_until(lambda: all(c.closed.is_set() for c in fake.connections))

    assert b"".join(first) == fake.render("Hello there.", MULAW_8K)
    assert b"".join(second) == fake.render("How can I help?", MULAW_8K)
    assert fake.texts == ["Hello there.", "How can I help?"]
    for conn, text in zip(fake.connections, ["Hello there.", "How can I help?"], strict=False):
        assert conn.voice_id == "voice1" and conn.headers["xi-api-key"] == "test-key"
        assert conn.query == {
            "model_id": "eleven_flash_v2_5",
            "output_format": "ulaw_8000",
            "inactivity_timeout": "60",
            "optimize_streaming_latency": "3",
            "language_code": "en",
        }
        assert conn.messages == [
            {"text": " ", "voice_settings": SETTINGS},
            {"text": text + " ", "flush": True},
            {"text": ""},
        ]
        assert conn.sent_final and conn.close_code == 1000
    assert fake.connections[2].texts == [] and fake.connections[2].close_code == 1000  # closed by aclose


async def test_empty_text_makes_no_request() -> None:
    async with FakeElevenLabsTTSServer(speed=0) as fake:
        session = await tts_for(fake).open_session(PCM16_16K)
        assert await synth(session, "   ") == []
        await session.aclose()
    assert fake.texts == []


async def test_barge_in_closes_that_sentence_only() -> None:
    async with FakeElevenLabsTTSServer(speed=1.0, chunk_ms=20, ms_per_char=40) as fake:
        session = await tts_for(fake).open_session(PCM16_16K)
        long = "This is a long sentence that the caller will interrupt halfway through."
        stream = session.synthesize(long)
        async with asyncio.timeout(5):
            async for _ in stream:
                break  # the caller barged in after the first chunk
            await stream.aclose()  # type: ignore[attr-defined]
        interrupted = fake.connections[0]
        await asyncio.wait_for(interrupted.closed.wait(), 3)
        assert not interrupted.sent_final
        assert interrupted.chunks_sent < len(fake.render(long, PCM16_16K)) // PCM16_16K.bytes_for_ms(20)
        audio = b"".join(await synth(session, "Sorry, go ahead."))
        await session.aclose()
    assert audio == fake.render("Sorry, go ahead.", PCM16_16K)
    assert isinstance(session, WebSocketTTSSession) and not session._background


async def test_keepalive_holds_the_spare_open() -> None:
    async with FakeElevenLabsTTSServer(speed=0, inactivity_timeout=0.3) as fake:
        session = await tts_for(fake, inactivity_timeout=1, keepalive_interval=0.08).open_session(MULAW_8K)
        await asyncio.sleep(0.8)  # well past the server's 0.3 s inactivity limit
        await synth(session, "Still there?")
        await session.aclose()
    spare = fake.connections[0]
    assert spare.texts == ["Still there?"] and spare.sent_final
    assert spare.keepalives >= 3 and all(m == {"text": " "} for m in spare.messages[1:-2])


async def test_an_idle_spare_that_timed_out_is_replaced() -> None:
    async with FakeElevenLabsTTSServer(speed=0, inactivity_timeout=0.2) as fake:
        session = await tts_for(fake).open_session(MULAW_8K)  # keep-alive every 20 s: too slow here
        await wait_until(lambda: fake.connections and fake.connections[0].closed.is_set())
        audio = b"".join(await synth(session, "Hello again."))
        await session.aclose()
    assert audio == fake.render("Hello again.", MULAW_8K)
    assert fake.connections[0].close_code == 1008 and fake.connections[0].texts == []
    assert fake.texts == ["Hello again."]


async def test_a_drop_before_any_audio_is_retried_once() -> None:
    async with FakeElevenLabsTTSServer(speed=0) as fake:
        session = await tts_for(fake).open_session(MULAW_8K)
        fake.drop_next_after_chunks = 0
        audio = b"".join(await synth(session, "Retry me."))
        await session.aclose()
    assert audio == fake.render("Retry me.", MULAW_8K)
    assert fake.texts == ["Retry me.", "Retry me."]


async def test_a_drop_mid_sentence_raises_and_the_next_sentence_works() -> None:
    async with FakeElevenLabsTTSServer(speed=0, chunk_ms=20) as fake:
        session = await tts_for(fake).open_session(MULAW_8K)
        fake.drop_next_after_chunks = 2
        got: list[bytes] = []
        with pytest.raises(ProviderConnectionError, match="mid-sentence"):
            async with asyncio.timeout(5):
                async for chunk in session.synthesize("This one breaks."):
                    got.append(chunk)
        assert len(got) == 2
        assert b"".join(await synth(session, "This one works.")) == fake.render("This one works.", MULAW_8K)
        await session.aclose()


async def test_service_errors_are_not_retried() -> None:
    async with FakeElevenLabsTTSServer(speed=0) as fake:
        session = await tts_for(fake).open_session(MULAW_8K)
        fake.error_next = {"message": "You have exceeded your quota", "error": "quota_exceeded", "code": 1008}
        with pytest.raises(ProviderError, match="quota") as info:
            await synth(session, "Hello.")
        assert info.value.fatal and not isinstance(info.value, ProviderConnectionError)
        await session.aclose()
    assert fake.texts == []


async def test_a_wrong_key_is_reported() -> None:
    async with FakeElevenLabsTTSServer(speed=0) as fake:
        session = await tts_for(fake, api_key="nope").open_session(MULAW_8K)
        with pytest.raises(ProviderError, match="Invalid API key"):
            await synth(session, "Hello.")
        await session.aclose()


async def test_malformed_frames_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="patter.elevenlabs")
    async with FakeElevenLabsTTSServer(speed=0) as fake:
        session = await tts_for(fake).open_session(MULAW_8K)
        fake.inject_next = ["not json", "[]", {"audio": "***"}, {"alignment": {"chars": ["H"]}}]
        audio = b"".join(await synth(session, "Hello."))
        await session.aclose()
    assert audio == fake.render("Hello.", MULAW_8K)
    assert len([r for r in caplog.records if "dropped" in r.message]) == 3


async def test_sentences_can_overlap() -> None:
    async with FakeElevenLabsTTSServer(speed=2.0, chunk_ms=20) as fake:
        session = await tts_for(fake).open_session(MULAW_8K)
        one, two = await asyncio.gather(synth(session, "First sentence."), synth(session, "Second one."))
        await session.aclose()
    assert b"".join(one) == fake.render("First sentence.", MULAW_8K)
    assert b"".join(two) == fake.render("Second one.", MULAW_8K)


async def test_closing_the_session_closes_the_spare_and_refuses_more_work() -> None:
    async with FakeElevenLabsTTSServer(speed=0) as fake:
        session = await tts_for(fake).open_session(MULAW_8K)
        await wait_until(lambda: len(fake.connections) == 1)
        await session.aclose()
        await session.aclose()
        await asyncio.wait_for(fake.connections[0].closed.wait(), 3)
        with pytest.raises(ProviderError, match="closed"):
            await synth(session, "Hello.")
    assert fake.connections[0].close_code == 1000


async def test_unreachable_server_raises_connection_error() -> None:
    async with FakeElevenLabsTTSServer() as fake:
        base_url = fake.base_url
    tts = ElevenLabsTTS(voice_id="v", api_key="k", base_url=base_url, connect_timeout=1)
    session = await tts.open_session(MULAW_8K)
    with pytest.raises(ProviderConnectionError, match="could not connect"):
        await synth(session, "Hello.")
    with contextlib.suppress(Exception):
        await session.aclose()


def test_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="ELEVENLABS_API_KEY is not set: pass api_key="):
        ElevenLabsTTS(voice_id="v")
    monkeypatch.setenv("ELEVENLABS_API_KEY", "sk-secret-123")
    assert "sk-secret-123" not in repr(ElevenLabsTTS(voice_id="v"))
    with pytest.raises(ConfigurationError, match="voice_id"):
        ElevenLabsTTS(voice_id="")
    with pytest.raises(ConfigurationError, match="transport='http'"):
        ElevenLabsTTS(voice_id="v", model_id="eleven_v3")
    ElevenLabsTTS(voice_id="v", model_id="eleven_v3", transport="http")
    with pytest.raises(ConfigurationError, match="optimize_streaming_latency"):
        ElevenLabsTTS(voice_id="v", optimize_streaming_latency=7)
    with pytest.raises(ConfigurationError, match="transport"):
        ElevenLabsTTS(voice_id="v", transport="grpc")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="keepalive_interval"):
        ElevenLabsTTS(voice_id="v", inactivity_timeout=5, keepalive_interval=10)


async def test_unsupported_format_is_refused() -> None:
    from patter_core.audio.format import L16_16K

    tts = ElevenLabsTTS(voice_id="v", api_key="k")
    with pytest.raises(ConfigurationError, match="cannot produce"):
        await tts.open_session(L16_16K)
