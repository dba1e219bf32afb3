"""The fakes themselves are faithful: GA shape checks, G.711 vectors, service-side refusals."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patter_openai.realtime import events as ev
from patter_openai.testing import FakeOpenAIHTTP, FakeRealtimeServer, FakeReply, ga_problems
from patter_openai.testing.audio import decode, encode
from websockets.asyncio.client import connect as ws_connect

# PROTOCOLS §3.3: the GA session.update for a phone call, verbatim
PROTOCOL_SESSION_UPDATE = {
    "type": "session.update",
    "session": {
        "type": "realtime",
        "model": "gpt-realtime",
        "instructions": "You are a concise phone agent…",
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "transcription": {"model": "whisper-1", "language": "en"},
                "noise_reduction": {"type": "near_field"},
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 500,
                    "create_response": True,
                    "interrupt_response": True,
                    "idle_timeout_ms": None,
                },
            },
            "output": {"format": {"type": "audio/pcmu"}, "voice": "marin", "speed": 1.0},
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
            }
        ],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
    },
}

# PROTOCOLS §3.4 client events
PROTOCOL_CLIENT_EVENTS = [
    {"type": "input_audio_buffer.append", "audio": "////"},
    {"type": "input_audio_buffer.commit"},
    {"type": "input_audio_buffer.clear"},
    {"type": "response.create"},
    {
        "type": "response.create",
        "response": {
            "instructions": "Greet the caller.",
            "output_modalities": ["audio"],
            "conversation": "auto",
            "tool_choice": "auto",
            "metadata": {"purpose": "greeting"},
        },
    },
    {"type": "response.cancel"},
    {"type": "response.cancel", "response_id": "resp_123"},
    {
        "type": "conversation.item.create",
        "item": {
            "type": "function_call_output",
            "call_id": "call_abc",
            "output": '{"status":"transferring"}',
        },
    },
    {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello"}]},
    },
    {"type": "conversation.item.truncate", "item_id": "item_456", "content_index": 0, "audio_end_ms": 1500},
    {"type": "conversation.item.delete", "item_id": "item_456"},
    {"type": "conversation.item.retrieve", "item_id": "item_456"},
]


@pytest.mark.parametrize("event", [PROTOCOL_SESSION_UPDATE, *PROTOCOL_CLIENT_EVENTS])
def test_protocol_examples_are_valid_ga(event: dict) -> None:
    assert ga_problems(event) == []


def test_our_event_builders_are_valid_ga() -> None:
    for event in (
        ev.append_audio(b"\xff" * 160),
        ev.create_response(),
        ev.create_response(instructions="Say hi"),
        ev.cancel_response(),
        ev.function_call_output("call_1", "{}"),
        ev.create_history_item("user", "hi"),
        ev.create_history_item("assistant", "hello"),
        ev.truncate_item("item_1", 0),
    ):
        assert ga_problems(event) == [], event


@pytest.mark.parametrize(
    ("event", "needle"),
    [
        (
            {"type": "session.update", "session": {"type": "realtime", "input_audio_format": "g711_ulaw"}},
            "'input_audio_format' (a beta field)",
        ),
        (
            {"type": "session.update", "session": {"type": "realtime", "modalities": ["text", "audio"]}},
            "modalities",
        ),
        (
            {"type": "session.update", "session": {"type": "realtime", "voice": "alloy"}},
            "'voice' (a beta field)",
        ),
        ({"type": "session.update", "session": {"type": "realtime", "temperature": 0.8}}, "temperature"),
        ({"type": "session.update", "session": {"instructions": "x"}}, "missing required key 'type'"),
        (
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"input": {"format": "g711_ulaw"}}},
            },
            "beta spelling",
        ),
        (
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {"output": {"format": {"type": "audio/pcm", "rate": 16000}}},
                },
            },
            "rate must be 24000",
        ),
        (
            {
                "type": "session.update",
                "session": {"type": "realtime", "tools": [{"type": "function", "function": {"name": "x"}}]},
            },
            "unknown key 'function'",
        ),
        ({"type": "transcription_session.update", "session": {}}, "not a GA client event"),
        ({"type": "input_audio_buffer.append", "audio": "not base64!"}, "not valid base64"),
        ({"type": "response.create", "response": {"modalities": ["audio"]}}, "unknown key 'modalities'"),
        (
            {"type": "conversation.item.truncate", "item_id": "i", "content_index": 0, "audio_end_ms": 1.5},
            "integer",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "input_text", "text": "x"}],
                },
            },
            "output_text",
        ),
        ({"type": "output_audio_buffer.clear"}, "WebRTC/SIP"),
    ],
)
def test_beta_and_malformed_shapes_are_caught(event: dict, needle: str) -> None:
    found = ga_problems(event)
    assert any(needle in p for p in found), found


def test_fake_g711_matches_the_protocol_vectors() -> None:
    encode_vectors = {
        0: 0xFF,
        1: 0xFF,
        -1: 0x7F,
        8: 0xFE,
        100: 0xF2,
        -100: 0x72,
        1000: 0xCE,
        -1000: 0x4E,
        4096: 0xAF,
        -4096: 0x2F,
        8031: 0xA0,
        8159: 0x9F,
        16000: 0x90,
        32767: 0x80,
        -32768: 0x00,
    }
    samples = np.array(list(encode_vectors), dtype=np.int16)
    assert list(encode(samples, "audio/pcmu")) == list(encode_vectors.values())
    decode_vectors = {
        0xFF: 0,
        0x7F: 0,
        0xFE: 8,
        0x7E: -8,
        0xF0: 120,
        0xCF: 924,
        0x4F: -924,
        0x8F: 16764,
        0x0F: -16764,
        0x10: -15996,
        0x80: 32124,
        0x00: -32124,
        0x01: -31100,
    }
    assert list(decode(bytes(decode_vectors), "audio/pcmu")) == list(decode_vectors.values())
    codes = bytes(range(256))
    assert encode(decode(codes, "audio/pcma"), "audio/pcma") == codes  # A-law round trip


async def _raw_session(fake: FakeRealtimeServer):
    ws = await ws_connect(
        fake.base_url.replace("http", "ws") + "/realtime?model=gpt-realtime",
        additional_headers={"Authorization": "Bearer sk-test-key"},
    )
    assert json.loads(await ws.recv())["type"] == "session.created"
    await ws.send(
        json.dumps(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"output": {"format": {"type": "audio/pcmu"}}}},
            }
        )
    )
    assert json.loads(await ws.recv())["type"] == "session.updated"
    return ws


async def _until(ws, kind: str) -> dict:
    while True:
        event = json.loads(await ws.recv())
        if event["type"] == kind:
            return event


async def test_fake_refuses_what_the_service_refuses(fake_rt: FakeRealtimeServer) -> None:
    fake_rt.script(FakeReply(text="hi", audio_ms=300))
    ws = await _raw_session(fake_rt)
    await ws.send(json.dumps({"type": "response.create"}))
    delta = await _until(ws, "response.output_audio.delta")
    await _until(ws, "response.done")
    for event, code in [
        (
            {
                "type": "conversation.item.truncate",
                "item_id": delta["item_id"],
                "content_index": 0,
                "audio_end_ms": 301,
            },
            "invalid_value",
        ),
        (
            {"type": "conversation.item.truncate", "item_id": "nope", "content_index": 0, "audio_end_ms": 1},
            "invalid_value",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": "x", "output": ""},
            },
            "invalid_value",
        ),
        ({"type": "response.cancel"}, "response_cancel_not_active"),
        ({"type": "session.update", "session": {"type": "realtime", "voice": "alloy"}}, "invalid_value"),
    ]:
        await ws.send(json.dumps({**event, "event_id": "evt_1"}))
        error = await _until(ws, "error")
        assert error["error"]["code"] == code and error["error"]["event_id"] == "evt_1", event
    await ws.send(
        json.dumps(
            {
                "type": "conversation.item.truncate",
                "item_id": delta["item_id"],
                "content_index": 0,
                "audio_end_ms": 300,
            }
        )
    )
    assert (await _until(ws, "conversation.item.truncated"))["audio_end_ms"] == 300
    await ws.close()
    assert len(fake_rt.invalid_events) == 1  # only the beta-shaped session.update


async def test_fake_conflicting_response_create(fake_rt: FakeRealtimeServer) -> None:
    fake_rt.pace = 1.0
    ws = await _raw_session(fake_rt)
    await ws.send(json.dumps({"type": "response.create"}))
    await _until(ws, "response.created")
    await ws.send(json.dumps({"type": "response.create", "event_id": "second"}))
    error = await _until(ws, "error")
    assert error["error"]["code"] == "conversation_already_has_active_response"
    await ws.close()


async def test_http_fake_auth_and_routes(fake_http: FakeOpenAIHTTP) -> None:
    async with httpx.AsyncClient(base_url=fake_http.base_url) as client:
        assert (await client.post("/chat/completions", json={})).status_code == 401
        response = await client.post("/nope", headers={"Authorization": "Bearer sk-test-key"})
        assert response.status_code == 404 and "Unknown request URL" in response.json()["error"]["message"]
        response = await client.post(
            "/audio/speech",
            headers={"Authorization": "Bearer sk-test-key"},
            json={"model": "m", "voice": "alloy", "input": "x", "response_format": "mp3"},
        )
        assert response.status_code == 400


KEYS = [
    "type",
    "session",
    "audio",
    "input",
    "output",
    "format",
    "rate",
    "turn_detection",
    "transcription",
    "noise_reduction",
    "tools",
    "tool_choice",
    "name",
    "parameters",
    "response",
    "item",
    "role",
    "content",
    "text",
    "call_id",
    "output",
    "item_id",
    "content_index",
    "audio_end_ms",
    "instructions",
    "metadata",
    "threshold",
    "eagerness",
    "speed",
    "voice",
    "max_output_tokens",
    "output_modalities",
    "event_id",
]
TYPES = [
    "realtime",
    "audio/pcm",
    "audio/pcmu",
    "server_vad",
    "semantic_vad",
    "function",
    "message",
    "function_call_output",
    "function_call",
    "input_text",
    "output_text",
    "near_field",
    "user",
    "assistant",
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.sampled_from(TYPES)
    | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS), children, max_size=5)
    ),
    max_leaves=20,
)
client_types = st.sampled_from(
    sorted(__import__("patter_openai.testing.ga_schema", fromlist=["x"]).CLIENT_EVENT_TYPES)
)


@settings(max_examples=500, deadline=None)
@given(kind=client_types, body=st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5))
def test_the_ga_check_never_raises(kind: str, body: dict) -> None:
    assert isinstance(ga_problems({**body, "type": kind}), list)
