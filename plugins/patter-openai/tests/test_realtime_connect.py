"""Opening a Realtime session: URL, GA session.update, format negotiation, refusals and deadlines."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from patter_openai import OpenAIRealtime
from patter_openai.realtime.connection import open_realtime
from patter_openai.testing import FakeRealtimeServer
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from patter_core.audio.format import ALAW_8K, MULAW_8K, PCM16_16K, PCM16_24K
from patter_core.errors import ConfigurationError, ProviderConnectionError
from patter_core.interfaces.engine import AgentAudio, ResponseDone

API_KEY = "sk-test-key"


def test_websocket_url_is_derived_from_base_url() -> None:
    assert OpenAIRealtime(api_key="k").url == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert (
        OpenAIRealtime(api_key="k", base_url="http://127.0.0.1:8080/v1/").url
        == "ws://127.0.0.1:8080/v1/realtime?model=gpt-realtime"
    )
    assert (
        OpenAIRealtime(api_key="k", base_url="https://proxy.example.com/openai/v1", model="gpt realtime").url
        == "wss://proxy.example.com/openai/v1/realtime?model=gpt%20realtime"
    )


async def test_pcmu_is_negotiated_and_passes_through(
    fake_rt: FakeRealtimeServer, connect, make_config
) -> None:
    session, _ = await connect(fake_rt, cfg=make_config(MULAW_8K, language="en-US"))
    assert (session.input_format, session.output_format) == (MULAW_8K, MULAW_8K)
    assert (session.wire_input_format, session.wire_output_format) == (MULAW_8K, MULAW_8K)
    handshake = fake_rt.handshakes[0]
    assert handshake["path"] == "/v1/realtime" and handshake["query"] == {"model": ["gpt-realtime"]}
    headers = {k.lower(): v for k, v in handshake["headers"].items()}
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert "openai-beta" not in headers
    [update] = fake_rt.events_of("session.update")
    assert update["session"] == {
        "type": "realtime",
        "model": "gpt-realtime",
        "instructions": "You are a concise phone agent.",
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "turn_detection": {"type": "server_vad", "create_response": True, "interrupt_response": True},
                "transcription": {"model": "whisper-1", "language": "en"},
                "noise_reduction": {"type": "near_field"},
            },
            "output": {"format": {"type": "audio/pcmu"}, "voice": "marin"},
        },
        "tools": [
            {
                "type": "function",
                "name": "transfer_call",
                "description": "Transfer the caller to a human.",
                "parameters": {
                    "type": "object",
                    "properties": {"number": {"type": "string"}},
                    "required": ["number"],
                },
            },
            {
                "type": "function",
                "name": "end_call",
                "description": "Hang up.",
                "parameters": {"type": "object", "properties": {}},
            },
        ],
        "tool_choice": "auto",
    }
    # caller audio goes out as it came in (same bytes, base64)
    frame = bytes(range(160))
    await session.send_audio(frame)
    await fake_rt.wait_for("input_audio_buffer.append")
    await asyncio.sleep(0.05)
    assert bytes(fake_rt.connection.audio_in) == frame
    assert fake_rt.invalid_events == []


async def test_alaw_is_negotiated_too(fake_rt: FakeRealtimeServer, connect, make_config) -> None:
    session, _ = await connect(fake_rt, cfg=make_config(ALAW_8K))
    assert (session.input_format, session.output_format) == (ALAW_8K, ALAW_8K)
    assert fake_rt.connection.session["audio"]["input"]["format"] == {"type": "audio/pcma"}


async def test_fallback_when_pcmu_is_not_honoured(
    connect, caplog: pytest.LogCaptureFixture, make_config
) -> None:
    caplog.set_level(logging.WARNING, "patter.openai.realtime")
    async with FakeRealtimeServer(api_key=API_KEY, pace=0, honour_pcmu=False) as fake:
        session, events = await connect(fake, cfg=make_config(MULAW_8K, first_message="Hello there"))
        [update] = fake.events_of("session.update")
        assert update["session"]["audio"]["input"]["format"] == {"type": "audio/pcmu"}  # we asked
        assert (session.input_format, session.output_format) == (PCM16_24K, PCM16_24K)  # we got
        assert "did not honour" in caplog.text
        await events.wait_for(ResponseDone)
        audio = events.of(AgentAudio)
        assert audio and all(a.format is None and len(a.data) % 2 == 0 for a in audio)
        # 24 kHz PCM: the greeting tone is 60 ms per character -> 660 ms = 31680 bytes
        assert sum(len(a.data) for a in audio) == int(24000 * 0.66) * 2
        assert fake.invalid_events == []


async def test_linear_carrier_audio_uses_pcm_24k(fake_rt: FakeRealtimeServer, connect, make_config) -> None:
    session, _ = await connect(fake_rt, cfg=make_config(PCM16_16K))
    [update] = fake_rt.events_of("session.update")
    assert update["session"]["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert update["session"]["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert (session.input_format, session.output_format) == (PCM16_24K, PCM16_24K)


async def test_semantic_vad_and_options_shape(fake_rt: FakeRealtimeServer, connect) -> None:
    await connect(
        fake_rt,
        turn_detection="semantic_vad",
        eagerness="low",
        transcription_model=None,
        noise_reduction=None,
        speed=1.2,
        max_output_tokens=512,
        voice="cedar",
    )
    [update] = fake_rt.events_of("session.update")
    audio = update["session"]["audio"]
    assert audio["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "low",
        "create_response": True,
        "interrupt_response": True,
    }
    assert "transcription" not in audio["input"] and audio["input"]["noise_reduction"] is None
    assert audio["output"] == {"format": {"type": "audio/pcmu"}, "voice": "cedar", "speed": 1.2}
    assert update["session"]["max_output_tokens"] == 512
    assert fake_rt.invalid_events == []


def test_option_validation_names_the_fix() -> None:
    with pytest.raises(ConfigurationError, match="semantic_vad"):
        OpenAIRealtime(api_key="k", eagerness="high")
    with pytest.raises(ConfigurationError, match="server_vad"):
        OpenAIRealtime(api_key="k", turn_detection="semantic_vad", silence_duration_ms=300)
    with pytest.raises(ConfigurationError, match="turn_detection"):
        OpenAIRealtime(api_key="k", turn_detection="none")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="speed"):
        OpenAIRealtime(api_key="k", speed=3.0)
    with pytest.raises(ConfigurationError, match=r"\{text\}"):
        OpenAIRealtime(api_key="k", say_template="Say it")


async def test_fake_refuses_the_beta_handshake(fake_rt: FakeRealtimeServer, make_engine) -> None:
    url = make_engine(fake_rt).url
    async with ws_connect(
        url, additional_headers={"Authorization": f"Bearer {API_KEY}", "OpenAI-Beta": "realtime=v1"}
    ) as ws:
        error = json.loads(await ws.recv())
        assert error["error"]["code"] == "beta_api_shape_disabled"
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 4000
    assert fake_rt.beta_rejections == 1


async def test_wrong_api_key_is_a_clear_connection_error(fake_rt: FakeRealtimeServer, make_config) -> None:
    engine = OpenAIRealtime(api_key="sk-wrong", base_url=fake_rt.base_url, connect_timeout=2)
    with pytest.raises(ProviderConnectionError, match=r"HTTP 401.*OPENAI_API_KEY") as info:
        await engine.connect(make_config())
    assert "sk-wrong" not in str(info.value)


async def test_refused_session_update_fails_connect(fake_rt: FakeRealtimeServer, make_engine) -> None:
    beta_update = {
        "type": "session.update",
        "session": {"type": "realtime", "input_audio_format": "g711_ulaw"},
    }
    with pytest.raises(ProviderConnectionError, match="refused the session") as info:
        await open_realtime(
            make_engine(fake_rt).url,
            {"Authorization": f"Bearer {API_KEY}"},
            beta_update,
            timeout=2,
            keepalive_interval=None,
            keepalive_timeout=None,
        )
    assert info.value.code == "invalid_value"
    assert "input_audio_format" in fake_rt.invalid_events[0][1][0]


@pytest.mark.parametrize("stall", ["before_created", "before_updated"])
async def test_silent_service_cannot_hang_connect(stall: str, make_config, make_engine) -> None:
    async with FakeRealtimeServer(api_key=API_KEY, stall=stall) as fake:
        engine = make_engine(fake, connect_timeout=0.3)
        async with asyncio.timeout(3):
            with pytest.raises(ProviderConnectionError, match=r"no answer within 0\.3 s") as info:
                await engine.connect(make_config())
        assert info.value.code == "timeout"


async def test_unreachable_service_is_a_connection_error(make_config) -> None:
    async with FakeRealtimeServer() as fake:
        url = fake.base_url
    engine = OpenAIRealtime(api_key=API_KEY, base_url=url, connect_timeout=2)
    async with asyncio.timeout(3):
        with pytest.raises(ProviderConnectionError, match="cannot connect"):
            await engine.connect(make_config())


async def test_tools_are_offered_as_ga_function_tools(
    fake_rt: FakeRealtimeServer, connect, make_config, tools
) -> None:
    await connect(fake_rt, cfg=make_config(tools=tools))
    tools = fake_rt.connection.session["tools"]
    assert [t["name"] for t in tools] == ["transfer_call", "end_call"]
    assert all(set(t) == {"type", "name", "description", "parameters"} for t in tools)


async def test_cancelled_connect_leaves_nothing_open(make_engine, make_config) -> None:
    async with FakeRealtimeServer(api_key=API_KEY, stall="before_updated") as fake:
        task = asyncio.get_running_loop().create_task(
            make_engine(fake, connect_timeout=5).connect(make_config())
        )
        await fake.wait_for("session.update")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        fake.connection.ws.transport.resume_reading()  # the stalled fake can see the socket again...
        await asyncio.wait_for(fake.connection.closed.wait(), 2)  # ...which the client has aborted
