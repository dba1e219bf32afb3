"""DeepgramSTT against the fake /v1/listen server (PROTOCOLS.md section 5)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest
from patter_deepgram import DeepgramSTT
from patter_deepgram._stream import DeepgramStream
from patter_deepgram.testing import FakeDeepgramServer, Raw, Utterance
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from patter_core.audio.format import L16_16K, MULAW_8K, PCM16_16K, AudioFormat
from patter_core.errors import ConfigurationError, MissingCredentialError, ProviderConnectionError
from patter_core.interfaces.stt import STTConfig, STTEvent, STTSpeechStarted, STTStream, Transcript


def stt_for(fake: FakeDeepgramServer, **kwargs: Any) -> DeepgramSTT:
    kwargs.setdefault("api_key", fake.api_key)
    return DeepgramSTT(base_url=fake.base_url, **kwargs)


async def push(stream: STTStream, fmt: AudioFormat, ms: int, *, pause: float = 0.0) -> int:
    """``ms`` of silence in 20 ms frames; returns the bytes pushed."""
    frame = (b"\xff" if fmt == MULAW_8K else b"\x00") * fmt.frame_bytes(20)
    for _ in range(ms // 20):
        await stream.push_audio(frame)
        await asyncio.sleep(pause)
    return len(frame) * (ms // 20)


async def drain(stream: STTStream, *, turns: int | None = None, timeout: float = 5.0) -> list[STTEvent]:
    """Events until ``turns`` ends of utterance were seen (or the stream ended)."""
    events: list[STTEvent] = []
    async with asyncio.timeout(timeout):
        async for event in stream.events():
            events.append(event)
            if (
                turns is not None
                and sum(isinstance(e, Transcript) and e.end_of_utterance for e in events) >= turns
            ):
                break
    return events


def finals(events: list[STTEvent]) -> list[tuple[str, bool]]:
    return [(e.text, e.end_of_utterance) for e in events if isinstance(e, Transcript) and e.final]


async def test_mulaw_passes_through_with_matching_params() -> None:
    async with FakeDeepgramServer() as fake:
        stream = await stt_for(fake).open_stream(STTConfig(format=MULAW_8K))
        frames = [bytes(range(160)), bytes(range(96, 256))]
        for frame in frames:
            await stream.push_audio(frame)
        await stream.aclose()
    conn = fake.connections[0]
    assert conn.headers["authorization"] == "Token test-key"
    assert conn.query == {
        "model": ["nova-3"],
        "language": ["en-US"],
        "encoding": ["mulaw"],
        "sample_rate": ["8000"],
        "channels": ["1"],
        "interim_results": ["true"],
        "endpointing": ["300"],
        "utterance_end_ms": ["1000"],
        "vad_events": ["true"],
        "smart_format": ["true"],
    }
    assert bytes(conn.audio) == b"".join(frames) and conn.binary_frames == 2  # untouched, one frame each
    assert isinstance(stream, DeepgramStream) and stream.request_ids == [conn.request_id]


async def test_linear16_params_and_options(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="patter.deepgram")
    async with FakeDeepgramServer() as fake:
        stt = stt_for(
            fake,
            model="nova-2-phonecall",
            endpointing_ms=None,
            utterance_end_ms=500,
            smart_format=False,
            punctuate=True,
            keyterms=["Acme", "Patter"],
            extra_params={"mip_opt_out": "true"},
        )
        stream = await stt.open_stream(STTConfig(format=PCM16_16K, language="es"))
        await stream.aclose()
    assert fake.connections[0].query == {
        "model": ["nova-2-phonecall"],
        "language": ["es"],
        "encoding": ["linear16"],
        "sample_rate": ["16000"],
        "channels": ["1"],
        "interim_results": ["true"],
        "endpointing": ["false"],
        "utterance_end_ms": ["1000"],
        "vad_events": ["true"],
        "smart_format": ["false"],
        "punctuate": ["true"],
        "keyterm": ["Acme", "Patter"],
        "mip_opt_out": ["true"],
    }
    assert any("raised to 1000" in r.message for r in caplog.records)


async def test_interim_final_speech_final_and_utterance_end_make_one_turn_each() -> None:
    script = [
        Utterance(
            "hello there", at_ms=100, final_pieces=2, empty_twin=True
        ),  # speech_final + twin + UtteranceEnd
        Utterance("how are you", at_ms=300, speech_final=False),  # only UtteranceEnd ends this one
        Utterance("fine thanks", at_ms=500, utterance_end=False),  # speech_final alone
    ]
    async with FakeDeepgramServer(script=script) as fake:
        stream = await stt_for(fake).open_stream(STTConfig(format=MULAW_8K))
        await push(stream, MULAW_8K, 600)
        await stream.aclose()
        events = await drain(stream)
    assert finals(events) == [
        ("hello", False),
        ("there", True),
        ("how are you", False),
        ("", True),
        ("fine thanks", True),
    ]
    interims = [e.text for e in events if isinstance(e, Transcript) and not e.final]
    assert interims == ["hello", "hello there", "how", "how are", "how are you", "fine", "fine thanks"]
    assert events[0] == STTSpeechStarted() and sum(isinstance(e, STTSpeechStarted) for e in events) == 3
    assert sum(isinstance(e, Transcript) and e.end_of_utterance for e in events) == 3


async def test_end_of_speech_sends_finalize_and_closes_the_turn() -> None:
    async with FakeDeepgramServer(
        script=[Utterance("book a table", at_ms=100, wait_for_finalize=True)]
    ) as fake:
        stream = await stt_for(fake).open_stream(STTConfig(format=MULAW_8K))
        await push(stream, MULAW_8K, 200)
        await stream.end_of_speech()
        events = await drain(stream, turns=1)
        await stream.aclose()
    assert finals(events) == [("book a table", True)]
    assert [m for m in fake.connections[0].messages if m["type"] != "KeepAlive"] == [
        {"type": "Finalize"},
        {"type": "CloseStream"},
    ]


async def test_keepalive_while_no_audio_flows() -> None:
    async with FakeDeepgramServer(idle_timeout=0.3) as fake:
        stream = await stt_for(fake, keepalive_interval=0.05).open_stream(STTConfig(format=MULAW_8K))
        await asyncio.sleep(0.7)  # more than twice the server's idle limit
        conn = fake.connections[0]
        assert not conn.closed.is_set() and conn.count("KeepAlive") >= 5
        assert all(m == {"type": "KeepAlive"} for m in conn.messages)
        await stream.aclose()
    assert isinstance(stream, DeepgramStream) and stream.reconnects == 0


async def test_an_idle_close_is_recovered_by_reconnecting() -> None:
    async with FakeDeepgramServer(idle_timeout=0.2, script=[Utterance("still here", at_ms=40)]) as fake:
        stream = await stt_for(fake, keepalive_interval=9).open_stream(STTConfig(format=MULAW_8K))
        await asyncio.wait_for(fake.connections[0].closed.wait(), 2)
        assert fake.connections[0].close_code == 1011 and fake.connections[0].close_reason.startswith(
            "NET-0001"
        )
        await asyncio.sleep(0.05)
        await push(stream, MULAW_8K, 60)
        events = await drain(stream, turns=1)
        await stream.aclose()
    assert finals(events) == [("still here", True)]
    assert isinstance(stream, DeepgramStream) and stream.reconnects == 1


async def test_aclose_sends_close_stream_and_keeps_the_last_words() -> None:
    async with FakeDeepgramServer(script=[Utterance("last words", at_ms=60, wait_for_finalize=True)]) as fake:
        stream = await stt_for(fake).open_stream(STTConfig(format=MULAW_8K))
        await push(stream, MULAW_8K, 100)
        await stream.aclose()
        await stream.aclose()  # idempotent
        events = await drain(stream)
        await stream.push_audio(b"\xff" * 160)  # ignored after close
        await stream.end_of_speech()
    conn = fake.connections[0]
    assert finals(events) == [("last words", False), ("", True)]  # the end of the stream ends the utterance
    assert [m["type"] for m in conn.messages] == ["CloseStream"] and conn.close_code == 1000
    assert conn.binary_frames == 5


async def test_a_dropped_socket_reconnects_once_without_losing_the_call() -> None:
    script = [Utterance("first", at_ms=60), Utterance("second", at_ms=400)]
    async with FakeDeepgramServer(script=script, drop_after_ms=200) as fake:
        stream = await stt_for(fake).open_stream(STTConfig(format=MULAW_8K))
        pushed = await push(stream, MULAW_8K, 600, pause=0.002)
        events = await drain(stream, turns=2)
        await stream.aclose()
    assert finals(events) == [("first", True), ("second", True)]
    assert isinstance(stream, DeepgramStream) and stream.reconnects == 1
    first, second = fake.connections
    assert first.close_code is None and second.close_code == 1000  # the first was aborted: no close frame
    assert len(second.audio) > 0 and len(first.audio) + len(second.audio) <= pushed
    assert second.query == first.query and second.zero_length_frames == 0


async def test_a_second_drop_raises_provider_connection_error() -> None:
    async with FakeDeepgramServer(drop_after_ms=60, drop_connections=2) as fake:
        stream = await stt_for(fake).open_stream(STTConfig(format=MULAW_8K))
        pusher = asyncio.get_running_loop().create_task(push(stream, MULAW_8K, 400, pause=0.005))
        with pytest.raises(ProviderConnectionError, match="dropped again"):
            await drain(stream)
        await asyncio.wait_for(pusher, 5)  # pushing never raises or hangs after the failure
        await push(stream, MULAW_8K, 40)
        await stream.aclose()
    assert len(fake.connections) == 2


async def test_a_refused_reconnect_raises() -> None:
    async with FakeDeepgramServer(drop_after_ms=60, refuse_from=1) as fake:
        stream = await stt_for(fake).open_stream(STTConfig(format=MULAW_8K))
        await push(stream, MULAW_8K, 100)
        with pytest.raises(ProviderConnectionError, match=r"reconnect failed.*503"):
            await drain(stream)
        await stream.aclose()


async def test_never_a_zero_length_frame() -> None:
    async with FakeDeepgramServer() as fake:
        stream = await stt_for(fake).open_stream(STTConfig(format=PCM16_16K))
        for audio in (b"", b"\x00\x01" * 320, b"", b"\x00\x01" * 320):
            await stream.push_audio(audio)
        await stream.aclose()
    assert fake.connections[0].zero_length_frames == 0 and fake.connections[0].binary_frames == 2


async def test_the_fake_treats_a_zero_length_frame_as_close() -> None:
    async with FakeDeepgramServer() as fake:
        url = fake.base_url.replace("http", "ws") + "/v1/listen?encoding=mulaw&sample_rate=8000"
        async with connect(url, additional_headers={"Authorization": "Token test-key"}) as ws:
            await ws.send(b"")
            with contextlib.suppress(ConnectionClosed):
                assert '"Metadata"' in str(await ws.recv())
                await ws.recv()
        assert ws.close_code == 1000 and fake.connections[0].zero_length_frames == 1


async def test_missing_and_wrong_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEEPGRAM_API_KEY", raising=False)
    with pytest.raises(MissingCredentialError, match="DEEPGRAM_API_KEY is not set: pass api_key= or set"):
        DeepgramSTT()
    monkeypatch.setenv("DEEPGRAM_API_KEY", "wrong-key-123")
    async with FakeDeepgramServer() as fake:
        stt = DeepgramSTT(base_url=fake.base_url)
        assert "wrong-key-123" not in repr(stt)
        with pytest.raises(
            ProviderConnectionError, match=r"401 Invalid credentials.*DEEPGRAM_API_KEY"
        ) as info:
            await stt.open_stream(STTConfig(format=MULAW_8K))
    assert info.value.fatal and "dg-request-id" in str(info.value)


async def test_malformed_and_empty_messages_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="patter.deepgram")
    script = [
        Raw("definitely not json"),
        Raw("[]"),
        Raw({"type": "Results"}),
        Raw({"type": "Results", "is_final": True, "channel": {"alternatives": [{"transcript": 42}]}}),
        Raw({"type": "Results", "is_final": False, "channel": {"alternatives": [{"transcript": ""}]}}),
        Raw(
            {
                "type": "Results",
                "is_final": True,
                "speech_final": True,
                "channel": {"alternatives": [{"transcript": ""}]},
            }
        ),
        Raw({"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": 1.0}),
        Raw({"type": "Error", "variant": "error", "code": "INTERNAL", "description": "something broke"}),
        Raw({"type": "SomethingNew"}),
        Utterance("ok", at_ms=20, interim=False),
    ]
    async with FakeDeepgramServer(script=script) as fake:
        stream = await stt_for(fake, vad_events=False).open_stream(STTConfig(format=MULAW_8K))
        await push(stream, MULAW_8K, 40)
        events = await drain(stream, turns=1)
        await stream.aclose()
    assert events == [Transcript("ok", final=True, end_of_utterance=True, confidence=0.98)]
    assert sum("dropped" in r.message for r in caplog.records) == 4
    assert any("something broke" in r.message for r in caplog.records)


async def test_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPGRAM_API_KEY", "k")
    stt = DeepgramSTT()
    assert stt.base_url == "https://api.deepgram.com"
    assert stt.listen_url(MULAW_8K).startswith("wss://api.deepgram.com/v1/listen?model=nova-3&")
    with pytest.raises(ConfigurationError, match="not supported"):
        await stt.open_stream(STTConfig(format=L16_16K))
    with pytest.raises(ConfigurationError, match="keyterms"):
        DeepgramSTT(keyterms="Acme")
    with pytest.raises(ConfigurationError, match="keepalive_interval"):
        DeepgramSTT(keepalive_interval=12)
    assert DeepgramSTT(interim_results=False).utterance_end_ms is None
    caps = DeepgramSTT.capabilities
    assert caps.input_formats[0] == PCM16_16K and MULAW_8K in caps.input_formats
    assert caps.streaming and caps.interim_results and caps.endpointing and caps.speech_events
