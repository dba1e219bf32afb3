"""The media-stream dialect: exact frame shapes in and out, strict parsing, reordering."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from patter_telnyx import TelnyxDialect

from patter_core.audio import L16_16K, MULAW_8K
from patter_core.interfaces.carrier import (
    AudioReceived,
    DtmfReceived,
    MalformedFrame,
    MarkPlayed,
    StreamStart,
    StreamStopped,
)

START: dict[str, Any] = {
    "event": "start",
    "sequence_number": "1",
    "stream_id": "32DE0DEA-53CB-4B21-89A4-9E1819C043BC",
    "start": {
        "user_id": "3E6F995F-85F7-4705-9741-53B116D28237",
        "call_control_id": "v3:T02llQx",
        "call_session_id": "ff55a038-6f5d-11ef-9692-02420aeffb1f",
        "from": "+13122010094",
        "to": "+13122123456",
        "tags": ["TAG1"],
        "client_state": "aGF2ZSBhIG5pY2UgZGF5ID1d",
        "custom_parameters": {"customer_id": "customer_123"},
        "media_format": {"encoding": "PCMU", "sample_rate": 8000, "channels": 1},
    },
}


def media(payload: bytes, chunk: int | None = 1, track: str = "inbound") -> str:
    body: dict[str, Any] = {"track": track, "timestamp": "5", "payload": base64.b64encode(payload).decode()}
    if chunk is not None:
        body["chunk"] = str(chunk)
    return json.dumps({"event": "media", "sequence_number": "4", "stream_id": "S", "media": body})


def test_documented_frames_parse() -> None:
    d = TelnyxDialect()
    assert d.parse('{"event": "connected", "version": "1.0.0"}') is None
    start = d.parse(json.dumps(START))
    assert isinstance(start, StreamStart)
    assert start.call_id == "v3:T02llQx" and start.stream_id == START["stream_id"]
    assert start.format == MULAW_8K and start.caller == "+13122010094" and start.callee == "+13122123456"
    assert start.parameters == {"customer_id": "customer_123"}
    assert d.parse(media(b"\xff" * 160)) == AudioReceived(b"\xff" * 160)
    dtmf = {
        "event": "dtmf",
        "sequence_number": "5",
        "stream_id": "S",
        "occurred_at": "2025-06-05T08:54:19Z",
        "dtmf": {"digit": "1"},
    }
    assert d.parse(json.dumps(dtmf)) == DtmfReceived("1")
    assert d.parse(
        '{"event":"mark","sequence_number":"5","stream_id":"S","mark":{"name":"m1"}}'
    ) == MarkPlayed("m1")
    stop = {
        "event": "stop",
        "sequence_number": "6",
        "stream_id": "S",
        "stop": {"user_id": "U", "call_control_id": "v3:T02llQx"},
    }
    assert d.parse(json.dumps(stop)) == StreamStopped("stop")


def test_start_variants() -> None:
    d = TelnyxDialect(default_format=L16_16K)
    start = dict(
        START,
        start={**START["start"], "media_format": None, "custom_parameters": [{"name": "a", "value": "1"}]},
    )
    start["start"].pop("media_format")
    parsed = d.parse(json.dumps(start))
    assert isinstance(parsed, StreamStart) and parsed.format == L16_16K and parsed.parameters == {"a": "1"}
    assert d.start_format is None
    legacy = dict(
        START,
        start={
            **START["start"],
            "media_format": {"encoding": "audio/x-mulaw", "sample_rate": 8000, "channels": 1},
        },
    )
    assert d.parse(json.dumps(legacy)).format == MULAW_8K  # type: ignore[union-attr]


def test_auth_token_in_the_connected_frame_is_kept() -> None:
    d = TelnyxDialect()
    d.parse('{"event":"connected","version":"1.0.0","stream_auth_token":"tok"}')
    assert d.auth_token == "tok"


def test_outbound_track_is_dropped_and_errors_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    d = TelnyxDialect()
    assert d.parse(media(b"\x00" * 320, track="outbound")) is None
    assert d.outbound_dropped == 1
    with caplog.at_level(logging.WARNING, "patter.telnyx"):
        frame = {
            "event": "error",
            "stream_id": "S",
            "payload": {"code": 100003, "title": "malformed_frame", "detail": "bad"},
        }
        assert d.parse(json.dumps(frame)) is None
    assert "100003" in caplog.text and d.errors[-1]["title"] == "malformed_frame"


@pytest.mark.parametrize(
    "frame",
    [
        b'{"event":"media"}',
        "not json",
        "[]",
        '{"event":"media"}',
        '{"event":"media","media":{"track":"inbound"}}',
        '{"event":"media","media":{"payload":"***"}}',
        '{"event":"media","media":{"payload":"AAAA","track":"sideways"}}',
        '{"event":"dtmf","dtmf":{"digit":"x"}}',
        '{"event":"dtmf","dtmf":{"digit":"12"}}',
        '{"event":"dtmf"}',
        '{"event":"mark","mark":{}}',
        '{"event":"start","start":{}}',
        '{"event":"start"}',
        '{"event":"start","start":{"call_control_id":"v3:x","media_format":{"encoding":"OPUS","sample_rate":16000}}}',
        '{"event":"startt"}',
        "[" * 100_000,
        '{"no":"event"}',
    ],
)
def test_strict_parsing_raises_malformed_frame(frame: str | bytes) -> None:
    with pytest.raises(MalformedFrame):
        TelnyxDialect().parse(frame)


def test_out_of_order_chunks_are_put_back_in_order() -> None:
    d = TelnyxDialect(reorder_window=3)
    out: list[Any] = []
    for chunk in (1, 3, 4, 2, 5):
        event = d.parse(media(bytes([chunk]) * 2, chunk))
        out += ([event] if event else []) + d.take_ready()
    assert [e.payload[0] for e in out] == [1, 2, 3, 4, 5]
    assert d.reorder.reordered == 1 and d.reorder.late == 0


def test_stop_flushes_held_audio_before_stopping() -> None:
    d = TelnyxDialect()
    d.parse(media(b"\x01\x01", 1))
    assert d.parse(media(b"\x03\x03", 3)) is None  # held: chunk 2 is missing
    first = d.parse('{"event":"stop","stream_id":"S","stop":{}}')
    assert first == AudioReceived(b"\x03\x03")
    assert d.take_ready() == [StreamStopped("stop")]


def test_outbound_frames_have_the_documented_shapes() -> None:
    d = TelnyxDialect()
    assert json.loads(d.audio_message(b"\x00\x01")) == {"event": "media", "media": {"payload": "AAE="}}
    assert json.loads(d.mark_message("m-1")) == {"event": "mark", "mark": {"name": "m-1"}}
    assert json.loads(d.clear_message()) == {"event": "clear"}
