"""ElevenLabsConvAI against the fake ConvAI server (PROTOCOLS.md section 4)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from typing import Any

import pytest
from patter_elevenlabs import ElevenLabsConvAI
from patter_elevenlabs._convai_session import ConvAISession
from patter_elevenlabs.testing import (
    AgentResponse,
    Audio,
    Close,
    Correction,
    Drop,
    FakeConvAIServer,
    Interrupt,
    Ping,
    Send,
    Sleep,
    Speak,
    ToolCall,
    UserTranscript,
    WaitForUserAudio,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from patter_core.audio.format import MULAW_8K, PCM16_8K, PCM16_16K, PCM16_22K, PCM16_24K, PCM16_44K, PCM16_48K
from patter_core.errors import ConfigurationError, ProviderConnectionError, ProviderError
from patter_core.interfaces.engine import (
    AgentAudio,
    AgentTranscript,
    CallerTranscript,
    EngineConfig,
    EngineEvent,
    EngineInterrupted,
    EngineSession,
    ToolCallRequested,
)

CONFIG = EngineConfig(
    instructions="You are a helpful receptionist.",
    first_message="Hello, Acme here.",
    variables={"caller_number": "+15551230000"},
    input_format=MULAW_8K,
    output_format=MULAW_8K,
)


def engine_for(fake: FakeConvAIServer, **kwargs: Any) -> ElevenLabsConvAI:
    kwargs.setdefault("api_key", fake.api_key)
    return ElevenLabsConvAI(agent_id=fake.agent_id, base_url=fake.base_url, connect_timeout=5, **kwargs)


async def collect(session: EngineSession, *, timeout: float = 5.0) -> list[EngineEvent]:
    events: list[EngineEvent] = []
    async with asyncio.timeout(timeout):
        async for event in session.events():
            events.append(event)
    return events


async def test_signed_url_initiation_data_and_normal_close() -> None:
    script = [Speak(ms=100, text="Hello, Acme here."), Close(1000)]
    async with FakeConvAIServer(script=script, speed=0) as fake:
        session = await engine_for(fake, user_id="u-1").connect(CONFIG)
        events = await collect(session)
        await session.aclose()

    assert fake.signed_url_requests[0]["xi-api-key"] == "test-key"
    conn = fake.last
    assert conn.query["agent_id"] == "agent_test" and "conversation_signature" in conn.query
    assert "xi-api-key" not in conn.headers  # the signature authorises the socket; the key stays home
    assert conn.initiation == {
        "type": "conversation_initiation_client_data",
        "conversation_config_override": {
            "agent": {
                "prompt": {"prompt": "You are a helpful receptionist."},
                "first_message": "Hello, Acme here.",
            }
        },
        "dynamic_variables": {"caller_number": "+15551230000"},
        "user_id": "u-1",
    }
    assert session.input_format == MULAW_8K and session.output_format == MULAW_8K
    assert isinstance(session, ConvAISession) and session.conversation_id
    assert events[0] == AgentTranscript("Hello, Acme here.", item_id="1", final=True)  # tagged with its audio
    audio = [e for e in events[1:] if isinstance(e, AgentAudio)]
    assert len(audio) == len(events) - 1 and {a.item_id for a in audio} == {"1"}
    assert sum(len(a.data) for a in audio) == 800  # 100 ms of mu-law 8 kHz, passed through untouched


async def test_public_agent_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    async with FakeConvAIServer(public=True, script=[Close()], speed=0) as fake:
        engine = ElevenLabsConvAI(agent_id=fake.agent_id, base_url=fake.base_url)
        assert engine.public
        session = await engine.connect(EngineConfig(instructions=""))
        assert await collect(session) == []
    assert fake.signed_url_requests == []
    assert fake.last.path == "/v1/convai/conversation" and fake.last.query == {"agent_id": "agent_test"}
    assert "xi-api-key" not in fake.last.headers
    assert fake.last.initiation == {
        "type": "conversation_initiation_client_data"
    }  # empty prompt: no override


async def test_private_agent_without_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELEVENLABS_API_KEY", "ignored")
    async with FakeConvAIServer() as fake:
        engine = ElevenLabsConvAI(agent_id=fake.agent_id, base_url=fake.base_url, api_key="")
        with pytest.raises(ProviderConnectionError, match="403") as info:
            await engine.connect(CONFIG)
    assert info.value.fatal


async def test_environment_key_and_wrong_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELEVENLABS_API_KEY", "wrong")
    async with FakeConvAIServer() as fake:
        engine = ElevenLabsConvAI(agent_id=fake.agent_id, base_url=fake.base_url)
        with pytest.raises(ProviderError, match=r"401.*api_key="):
            await engine.connect(CONFIG)
    assert fake.signed_url_requests[0]["xi-api-key"] == "wrong"


async def test_key_header_when_signed_urls_are_off() -> None:
    async with FakeConvAIServer(script=[Close()], speed=0) as fake:
        session = await engine_for(fake, use_signed_url=False).connect(CONFIG)
        await collect(session)
    assert fake.signed_url_requests == []
    assert fake.last.headers["xi-api-key"] == "test-key" and "conversation_signature" not in fake.last.query


async def test_signed_url_is_rebased_onto_base_url() -> None:
    async with FakeConvAIServer(script=[Close()], signed_url_root="wss://api.elevenlabs.io") as fake:
        session = await engine_for(fake).connect(CONFIG)
        await collect(session)
    assert len(fake.connections) == 1 and "conversation_signature" in fake.last.query


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("ulaw_8000", MULAW_8K),
        ("pcm_16000", PCM16_16K),
        ("pcm_8000", PCM16_8K),
        ("pcm_22050", PCM16_22K),
        ("pcm_24000", PCM16_24K),
        ("pcm_44100", PCM16_44K),
        ("pcm_48000", PCM16_48K),
    ],
)
async def test_audio_formats_come_from_the_metadata(name: str, fmt: Any) -> None:
    async with FakeConvAIServer(
        input_format=name, output_format=name, script=[Speak(ms=20), Close()], speed=0
    ) as fake:
        session = await engine_for(fake).connect(CONFIG)
        events = await collect(session)
    assert session.input_format == fmt and session.output_format == fmt
    assert sum(len(e.data) for e in events if isinstance(e, AgentAudio)) == fmt.bytes_for_ms(20)


async def test_compressed_agent_output_is_a_clear_error() -> None:
    async with FakeConvAIServer(output_format="mp3_44100_128") as fake:
        with pytest.raises(ConfigurationError, match=r"agent_output_audio_format.*ulaw_8000"):
            await engine_for(fake).connect(CONFIG)


async def test_audio_at_or_below_the_interrupted_event_id_is_dropped() -> None:
    script = [
        Speak(ms=400, chunk_ms=50, wait=False),  # turn 1, speaking in the background
        Sleep(0.08),
        Interrupt(),  # interruption_event.event_id = 1
        Audio(ms=40),  # a late chunk of turn 1: must be dropped
        Audio(ms=40, event_id=0),  # older still: dropped
        Speak(ms=100, text="Sure."),  # turn 2: played
        Close(),
    ]
    async with FakeConvAIServer(script=script, speed=1.0) as fake:
        session = await engine_for(fake).connect(CONFIG)
        events = await collect(session)
    cut = events.index(EngineInterrupted())
    before, after = events[:cut], events[cut + 1 :]
    assert before and all(isinstance(e, AgentAudio) and e.item_id == "1" for e in before)
    assert len(before) < 8  # the interruption really came mid-turn
    assert after[0] == AgentTranscript("Sure.", item_id="2", final=True)
    assert all(isinstance(e, AgentAudio) and e.item_id == "2" for e in after[1:])
    assert sum(len(e.data) for e in after[1:] if isinstance(e, AgentAudio)) == 800
    assert isinstance(session, ConvAISession) and session.dropped_audio_events == 2


async def test_agent_text_is_tagged_with_the_audio_it_describes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("patter_elevenlabs._convai_session.HOLD_S", 0.1)
    script = [
        Speak(ms=200, chunk_ms=50, wait=False),  # turn 1 starts playing ...
        Sleep(0.08),
        AgentResponse("late text"),  # ... and its text comes afterwards
        Sleep(0.3),
        AgentResponse("text only"),  # no audio follows: released after the hold
        Sleep(0.5),
        UserTranscript("ok"),
        Close(),
    ]
    async with FakeConvAIServer(script=script, speed=1.0) as fake:
        session = await engine_for(fake).connect(CONFIG)
        events = session.events()
        seen: list[EngineEvent] = []
        async with asyncio.timeout(5):
            while AgentTranscript("late text", item_id="1", final=True) not in seen:
                seen.append(await anext(events))
            assert seen[0] == AgentAudio(seen[0].data, item_id="1")  # type: ignore[union-attr]
            while (event := await anext(events)) != AgentTranscript("text only", final=True):
                assert isinstance(event, AgentAudio)
            assert await anext(events) == CallerTranscript("ok", final=True)  # came 0.5 s after the release


async def test_ping_is_answered_with_its_event_id_and_not_surfaced() -> None:
    script = [Ping(), Ping(ping_ms=50), AgentResponse("still here"), Close()]
    async with FakeConvAIServer(script=script, speed=0, pong_timeout=2) as fake:
        session = await engine_for(fake).connect(CONFIG)
        events = await collect(session)
    assert events == [AgentTranscript("still here", final=True)]
    assert fake.last.pongs == fake.last.pings and len(fake.last.pings) == 2
    pongs = [m for m in fake.last.messages if m.get("type") == "pong"]
    assert pongs == [
        {"type": "pong", "event_id": fake.last.pings[0]},
        {"type": "pong", "event_id": fake.last.pings[1]},
    ]


async def test_fake_closes_when_the_pong_never_comes() -> None:
    async with FakeConvAIServer(script=[Ping()], public=True, pong_timeout=0.2) as fake:
        url = fake.base_url.replace("http", "ws") + "/v1/convai/conversation?agent_id=agent_test"
        async with connect(url) as ws:
            await ws.send(json.dumps({"type": "conversation_initiation_client_data"}))
            with contextlib.suppress(ConnectionClosed):
                async for _ in ws:
                    pass  # never answers the ping
        assert ws.close_code == 1008
        await asyncio.wait_for(fake.last.closed.wait(), 2)
    assert fake.last.missed_pong


async def test_client_tool_call_and_result() -> None:
    script = [
        ToolCall("transfer_call", {"number": "+15551234567"}, call_id="toolu_1"),
        ToolCall("lookup", {}, call_id="toolu_2"),
        ToolCall("end_call", {}, call_id="toolu_3"),
        ToolCall("lookup", {"slow": True}, call_id="toolu_4"),
        AgentResponse("Goodbye."),
        Close(),
    ]
    async with FakeConvAIServer(script=script, speed=0) as fake:
        session = await engine_for(fake).connect(CONFIG)
        calls: list[ToolCallRequested] = []
        async with asyncio.timeout(5):
            async for event in session.events():
                if isinstance(event, ToolCallRequested):
                    calls.append(event)
                    if event.call_id == "toolu_1":
                        await session.send_tool_result(event.call_id, "Transfer started")
                    elif event.call_id == "toolu_2":
                        await session.send_tool_result(event.call_id, json.dumps({"error": "not found"}))
                    elif event.call_id == "toolu_4":
                        await session.send_tool_result(event.call_id, "error: lookup timed out after 5 s")
                    else:
                        assert isinstance(session, ConvAISession)
                        await session.send_tool_result(event.call_id, "call ended", is_error=False)
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("toolu_1", "transfer_call", {"number": "+15551234567"}),
        ("toolu_2", "lookup", {}),
        ("toolu_3", "end_call", {}),
        ("toolu_4", "lookup", {"slow": True}),
    ]
    assert fake.last.tool_results == [
        {
            "type": "client_tool_result",
            "tool_call_id": "toolu_1",
            "result": "Transfer started",
            "is_error": False,
        },
        {
            "type": "client_tool_result",
            "tool_call_id": "toolu_2",
            "result": '{"error": "not found"}',
            "is_error": True,
        },
        {"type": "client_tool_result", "tool_call_id": "toolu_3", "result": "call ended", "is_error": False},
        {
            "type": "client_tool_result",
            "tool_call_id": "toolu_4",
            "result": "error: lookup timed out after 5 s",
            "is_error": True,
        },
    ]


async def test_transcripts_and_corrections() -> None:
    script = [
        UserTranscript("I need help"),
        AgentResponse("Sure, let me check the order status."),
        Correction("Sure, let me check the order status.", "Sure, let me"),
        Close(),
    ]
    async with FakeConvAIServer(script=script, speed=0) as fake:
        session = await engine_for(fake).connect(CONFIG)
        events = await collect(session)
    assert events == [
        CallerTranscript("I need help", final=True),
        AgentTranscript("Sure, let me check the order status.", final=True),
        AgentTranscript("Sure, let me", final=True),
    ]


async def test_malformed_and_unknown_frames_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    script = [
        Send("this is not json"),
        Send("[1, 2]"),
        Send({"type": "audio"}),
        Send({"type": "audio", "audio_event": {"audio_base_64": "***", "event_id": 3}}),
        Send({"type": "client_tool_call", "client_tool_call": {"tool_name": "x"}}),
        Send({"type": "vad_score", "vad_score_event": {"vad_score": 0.9}}),
        Send(
            {
                "type": "internal_tentative_agent_response",
                "tentative_agent_response_internal_event": {"tentative_agent_response": "hm"},
            }
        ),
        Send({"type": "some_future_event", "payload": {}}),
        AgentResponse("still alive"),
        Close(),
    ]
    caplog.set_level(logging.WARNING, logger="patter.elevenlabs")
    async with FakeConvAIServer(script=script, speed=0) as fake:
        session = await engine_for(fake).connect(CONFIG)
        events = await collect(session)
    assert events == [AgentTranscript("still alive", final=True)]
    assert sum("malformed" in r.message or "non-object" in r.message for r in caplog.records) == 5


@pytest.mark.parametrize("ending", [Drop(), Close(1011, "internal error")])
async def test_abnormal_end_raises_provider_connection_error(ending: Any) -> None:
    async with FakeConvAIServer(script=[Speak(ms=40), ending], speed=0) as fake:
        session = await engine_for(fake).connect(CONFIG)
        seen: list[EngineEvent] = []
        with pytest.raises(ProviderConnectionError, match=r"dropped|1006|1011"):
            async with asyncio.timeout(5):
                async for event in session.events():
                    seen.append(event)
        assert seen and all(isinstance(e, AgentAudio) for e in seen)
        await session.aclose()


async def test_caller_audio_is_sent_as_bare_user_audio_chunk() -> None:
    async with FakeConvAIServer(script=[WaitForUserAudio(ms=40), Close()], speed=0) as fake:
        session = await engine_for(fake).connect(CONFIG)
        frames = [bytes([0xFF]) * 160, bytes([0x7F]) * 160]
        for frame in frames:
            await session.send_audio(frame)
        await session.send_audio(b"")  # never sent
        await collect(session)
        await session.send_audio(frames[0])  # after the end: silently ignored
    audio_messages = [m for m in fake.last.messages if "user_audio_chunk" in m]
    assert audio_messages == [{"user_audio_chunk": base64.b64encode(f).decode()} for f in frames]
    assert bytes(fake.last.audio) == b"".join(frames)


async def test_rejected_overrides_name_the_fix_and_can_be_turned_off() -> None:
    async with FakeConvAIServer(allowed_overrides={"agent.first_message"}, script=[Close()]) as fake:
        with pytest.raises(ProviderConnectionError, match="overrides=False") as info:
            await engine_for(fake).connect(CONFIG)
        assert "agent.prompt" in str(info.value)
        session = await engine_for(fake, overrides=False, dynamic_variables={"tier": "gold"}).connect(CONFIG)
        await collect(session)
    assert fake.last.initiation == {
        "type": "conversation_initiation_client_data",
        "dynamic_variables": {"tier": "gold", "caller_number": "+15551230000"},
    }


async def test_missing_metadata_times_out() -> None:
    async with FakeConvAIServer(send_metadata=False) as fake:
        engine = ElevenLabsConvAI(
            agent_id=fake.agent_id, api_key=fake.api_key, base_url=fake.base_url, connect_timeout=0.3
        )
        with pytest.raises(ProviderConnectionError, match="conversation_initiation_metadata"):
            await engine.connect(CONFIG)


async def test_client_close_ends_events_and_is_idempotent() -> None:
    async with FakeConvAIServer(script=[Speak(ms=2000, chunk_ms=100)], speed=1.0) as fake:
        session = await engine_for(fake).connect(CONFIG)
        await session.send_contextual_update("VIP caller")  # type: ignore[attr-defined]
        await session.send_text("(The caller pressed the 5 key on the keypad.)")
        await session.aclose()
        await session.aclose()
        assert await collect(session) == []
        await asyncio.wait_for(fake.last.closed.wait(), 3)
    assert fake.last.close_code == 1000
    assert {"type": "contextual_update", "text": "VIP caller"} in fake.last.messages
    assert {
        "type": "user_message",
        "text": "(The caller pressed the 5 key on the keypad.)",
    } in fake.last.messages


def test_constructor_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="agent_id"):
        ElevenLabsConvAI(agent_id=" ")
    with pytest.raises(ConfigurationError, match="base_url"):
        ElevenLabsConvAI(agent_id="a", base_url="ftp://x")
    engine = ElevenLabsConvAI(agent_id="a", api_key="secret")
    assert engine.base_url == "https://api.elevenlabs.io" and "secret" not in repr(engine)
    assert not engine.capabilities.say and not engine.capabilities.truncate
    assert engine.capabilities.interruption_events and engine.capabilities.server_vad
