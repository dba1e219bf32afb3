"""TwiML builders: exact documents, everything escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from patter_twilio.testing import TwiMLError, parse_stream_twiml
from patter_twilio.twiml import conference_twiml, connect_stream, dial_twiml, say_hangup_twiml


def test_connect_stream_matches_the_sdk_rendering_style() -> None:
    doc = connect_stream(
        "wss://example.com/ws/stream/CA1", [("caller", "+15551230000"), ("agent", "support")]
    )
    assert doc == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://example.com/ws/stream/CA1">'
        '<Parameter name="caller" value="+15551230000" /><Parameter name="agent" value="support" />'
        "</Stream></Connect></Response>"
    )


def test_stream_url_with_a_query_string_is_refused() -> None:
    with pytest.raises(ValueError, match="query string"):
        connect_stream("wss://example.com/ws?token=x", [])
    with pytest.raises(TwiMLError, match="query string"):
        parse_stream_twiml('<Response><Connect><Stream url="wss://e.com/ws?x=1"/></Connect></Response>')
    with pytest.raises(TwiMLError, match="wss://"):
        parse_stream_twiml('<Response><Connect><Stream url="ws://e.com/ws"/></Connect></Response>')
    assert parse_stream_twiml("<Response><Hangup/></Response>") is None


@pytest.mark.parametrize(
    "value", ['a"b', "a'b", "a<b>&c", "line\nbreak\ttab", "ctl\x01\x02char", "ünïcödé ☎"]
)
def test_attribute_and_text_values_round_trip(value: str) -> None:
    doc = connect_stream("wss://e.com/ws", [("v", value)])
    stream = parse_stream_twiml(doc)
    assert stream is not None and stream.parameters["v"] == value.replace("\x01", "").replace("\x02", "")
    said = ET.fromstring(say_hangup_twiml(value)).find("./Say")
    assert said is not None and said.text == value.replace("\x01", "").replace("\x02", "")


def test_call_control_documents() -> None:
    assert dial_twiml("+15551112222") == "<Response><Dial>+15551112222</Dial></Response>"
    assert say_hangup_twiml("Bye", voice="Polly.Joanna", language="en-US") == (
        '<Response><Say voice="Polly.Joanna" language="en-US">Bye</Say><Hangup/></Response>'
    )
    assert conference_twiml("room", start_on_enter=True, say="Summary") == (
        '<Response><Say>Summary</Say><Dial><Conference startConferenceOnEnter="true" '
        'endConferenceOnExit="true">room</Conference></Dial></Response>'
    )
