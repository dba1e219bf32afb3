"""Media Streams frames (PROTOCOLS §1.4): strict parsing, tolerated looseness, exact outbound frames."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from patter_twilio.dialect import TwilioDialect
from patter_twilio.testing import TwilioCallerDialect

from patter_core.audio import MULAW_8K
from patter_core.interfaces.carrier import (
    AudioReceived,
    DtmfReceived,
    MalformedFrame,
    MarkPlayed,
    StreamStart,
    StreamStopped,
)

MZ = "MZ18ad3ab5a668481ce02b83e7395059f0"
CA = "CA0123456789abcdef0123456789abcdef"
START = {
    "event": "start",
    "sequenceNumber": "1",
    "streamSid": MZ,
    "start": {
        "streamSid": MZ,
        "accountSid": "AC" + "a" * 32,
        "callSid": CA,
        "tracks": ["inbound"],
        "customParameters": {"caller": "+15551230000", "callee": "+15550002222", "token": "v1.x.y"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    },
}


def started() -> TwilioDialect:
    dialect = TwilioDialect()
    dialect.parse(json.dumps(START))
    return dialect


def test_protocol_examples_parse() -> None:
    dialect = TwilioDialect()
    assert dialect.parse('{"event": "connected", "protocol": "Call", "version": "1.0.0"}') is None
    start = dialect.parse(json.dumps(START))
    assert start == StreamStart(
        call_id=CA,
        stream_id=MZ,
        format=MULAW_8K,
        parameters={"caller": "+15551230000", "callee": "+15550002222", "token": "v1.x.y"},
        caller="+15551230000",
        callee="+15550002222",
    )
    payload = bytes(range(160))
    media = {
        "event": "media",
        "sequenceNumber": "3",
        "streamSid": MZ,
        "media": {
            "track": "inbound",
            "chunk": "1",
            "timestamp": "5",
            "payload": base64.b64encode(payload).decode(),
        },
    }
    assert dialect.parse(json.dumps(media)) == AudioReceived(payload)
    assert dialect.parse(
        json.dumps(
            {
                "event": "dtmf",
                "sequenceNumber": "5",
                "streamSid": MZ,
                "dtmf": {"track": "inbound_track", "digit": "1"},
            }
        )
    ) == DtmfReceived("1")
    assert dialect.parse(
        json.dumps({"event": "mark", "sequenceNumber": "4", "streamSid": MZ, "mark": {"name": "turn-3-end"}})
    ) == MarkPlayed("turn-3-end")
    assert dialect.parse(
        json.dumps(
            {
                "event": "stop",
                "sequenceNumber": "101",
                "streamSid": MZ,
                "stop": {"accountSid": "AC", "callSid": CA},
            }
        )
    ) == StreamStopped("stop")


def test_tolerated_looseness() -> None:
    dialect = started()
    # numeric sequence numbers, no track, bytes frames, outbound-track media ignored, lower-case DTMF letters
    frame = {"event": "media", "sequenceNumber": 7, "streamSid": MZ, "media": {"payload": "//8="}}
    assert dialect.parse(json.dumps(frame).encode()) == AudioReceived(b"\xff\xff")
    outbound = {
        "event": "media",
        "sequenceNumber": "8",
        "streamSid": MZ,
        "media": {"track": "outbound", "payload": "AAAA"},
    }
    assert dialect.parse(json.dumps(outbound)) is None
    assert dialect.parse(
        json.dumps({"event": "dtmf", "streamSid": MZ, "dtmf": {"digit": "a"}})
    ) == DtmfReceived("A")
    assert dialect.parse(json.dumps({"event": "media", "streamSid": MZ, "media": {"payload": ""}})) is None
    # out-of-order sequence numbers are counted, not fatal
    assert dialect.parse(json.dumps({**frame, "sequenceNumber": "2"})) == AudioReceived(b"\xff\xff")
    assert dialect.out_of_order == 1


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[]",
        "null",
        json.dumps({"event": "media", "streamSid": MZ}),
        json.dumps({"event": "media", "streamSid": MZ, "media": {"payload": 5}}),
        json.dumps({"event": "media", "streamSid": MZ, "media": {"payload": "***"}}),
        json.dumps({"event": "media", "streamSid": MZ, "media": {"track": "sideways", "payload": "//8="}}),
        json.dumps({"event": "media", "streamSid": "MZother", "media": {"payload": "//8="}}),
        json.dumps(
            {"event": "media", "sequenceNumber": "seven", "streamSid": MZ, "media": {"payload": "//8="}}
        ),
        json.dumps({"event": "media", "sequenceNumber": True, "streamSid": MZ, "media": {"payload": "//8="}}),
        json.dumps({"event": "dtmf", "streamSid": MZ, "dtmf": {"digit": "12"}}),
        json.dumps({"event": "dtmf", "streamSid": MZ, "dtmf": {"digit": "x"}}),
        json.dumps({"event": "dtmf", "streamSid": MZ}),
        json.dumps({"event": "mark", "streamSid": MZ, "mark": {"name": ""}}),
        json.dumps({"event": "unknown", "streamSid": MZ}),
        json.dumps({"streamSid": MZ}),
        json.dumps(START),  # a second start
        "x" * 70000,
    ],
)
def test_malformed_frames_raise_malformed_frame(frame: str) -> None:
    with pytest.raises(MalformedFrame):
        started().parse(frame)


@pytest.mark.parametrize(
    "start",
    [
        {**START, "start": {**START["start"], "callSid": 5}},
        {**START, "start": {k: v for k, v in START["start"].items() if k != "callSid"}},
        {**START, "streamSid": None, "start": {k: v for k, v in START["start"].items() if k != "streamSid"}},
        {**START, "start": {**START["start"], "customParameters": []}},
        {
            **START,
            "start": {
                **START["start"],
                "mediaFormat": {"encoding": "audio/L16", "sampleRate": 16000, "channels": 1},
            },
        },
        {**START, "start": "nope"},
    ],
)
def test_bad_starts(start: dict[str, object]) -> None:
    with pytest.raises(MalformedFrame):
        TwilioDialect().parse(json.dumps(start))


def test_frames_before_start_are_malformed() -> None:
    with pytest.raises(MalformedFrame):
        TwilioDialect().parse(json.dumps({"event": "media", "streamSid": MZ, "media": {"payload": "//8="}}))


def test_outbound_frames_have_twilios_exact_shape() -> None:
    dialect = started()
    frame = bytes(range(160))
    assert json.loads(dialect.audio_message(frame)) == {
        "event": "media",
        "streamSid": MZ,
        "media": {"payload": base64.b64encode(frame).decode()},
    }
    assert json.loads(dialect.mark_message("m-1")) == {
        "event": "mark",
        "streamSid": MZ,
        "mark": {"name": "m-1"},
    }
    assert json.loads(dialect.clear_message()) == {"event": "clear", "streamSid": MZ}
    with pytest.raises(RuntimeError):
        TwilioDialect().audio_message(frame)  # nothing may be sent before start


def test_caller_dialect_frames_round_trip_through_the_server_dialect() -> None:
    caller = TwilioCallerDialect(
        call_sid=CA, stream_sid=MZ, account_sid="AC" + "a" * 32, custom_parameters={"token": "t"}
    )
    server = TwilioDialect()
    assert server.parse(caller.connected()) is None
    start = server.parse(caller.start())
    assert isinstance(start, StreamStart) and start.parameters == {"token": "t"}
    media = json.loads(caller.media(b"\x01" * 160, 0, 0))
    assert (
        media["sequenceNumber"] == "2"
        and media["media"]["chunk"] == "1"
        and media["media"]["timestamp"] == "0"
    )
    assert server.parse(caller.dtmf("#")) == DtmfReceived("#")
    assert server.parse(caller.mark("x")) == MarkPlayed("x")
    assert server.parse(caller.stop()) == StreamStopped("stop")
    assert caller.parse_outbound(server.audio_message(b"\x02" * 160)) == ("media", b"\x02" * 160)
    assert caller.parse_outbound(server.clear_message()) == ("clear", None)
    with pytest.raises(ValueError):
        caller.parse_outbound(json.dumps({"event": "media", "media": {"payload": "AA=="}}))  # no streamSid
    with pytest.raises(ValueError):
        caller.parse_outbound(
            json.dumps({"event": "media", "streamSid": MZ, "media": {"payload": "AA==", "track": "x"}})
        )


@given(
    st.one_of(
        st.text(max_size=300),
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda children: (
                st.lists(children, max_size=4)
                | st.dictionaries(
                    st.sampled_from(
                        [
                            "event",
                            "media",
                            "payload",
                            "streamSid",
                            "dtmf",
                            "digit",
                            "mark",
                            "name",
                            "start",
                            "sequenceNumber",
                        ]
                    ),
                    children,
                    max_size=5,
                )
            ),
            max_leaves=12,
        ).map(json.dumps),
    )
)
def test_parse_never_raises_anything_but_malformed_frame(frame: str | bytes) -> None:
    dialect = started()
    try:
        dialect.parse(frame)
    except MalformedFrame:
        pass
