"""Twilio Media Streams frames (PROTOCOLS.md §1.4), parsed strictly and built exactly.

From Twilio: ``connected``, ``start``, ``media``, ``dtmf``, ``mark`` (echo), ``stop``. To Twilio:
``media``, ``mark``, ``clear``, always carrying the ``streamSid`` learnt from ``start``.

Parsing is strict -- anything that is not one of those frames with the documented fields raises
:class:`~patter_core.interfaces.MalformedFrame` (the channel logs and drops it) -- but tolerant where
Twilio is loose: ``sequenceNumber``/``chunk``/``timestamp`` are strings (numbers are accepted too),
``media`` frames of the outbound track (what Twilio plays, sent with ``track="both_tracks"``) are
ignored, and ``connected`` carries nothing we need.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from patter_core.audio.format import MULAW_8K, AudioFormat
from patter_core.interfaces.carrier import (
    AudioReceived,
    DtmfReceived,
    MalformedFrame,
    MarkPlayed,
    MediaDialect,
    MediaEvent,
    StreamStart,
    StreamStopped,
)
from patter_core.server.media import json_frame

__all__ = ["DTMF_DIGITS", "TwilioDialect", "media_format"]

DTMF_DIGITS = frozenset("0123456789*#ABCDabcd")


def media_format(value: Any) -> AudioFormat:
    """The stream's audio format from ``start.mediaFormat`` (only mu-law 8 kHz mono is defined)."""
    if value is None:
        return MULAW_8K
    if not isinstance(value, dict):
        raise MalformedFrame("start.mediaFormat is not an object")
    encoding = value.get("encoding", "audio/x-mulaw")
    rate = value.get("sampleRate", 8000)
    channels = value.get("channels", 1)
    if encoding != "audio/x-mulaw" or str(rate) != "8000" or str(channels) != "1":
        raise MalformedFrame(
            f"unsupported media format {encoding!r}/{rate}/{channels}: Patter's Twilio carrier speaks "
            "audio/x-mulaw 8000 Hz mono (do not set audioFormat/sampleRate on <Stream>)"
        )
    return MULAW_8K


def _object(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if not isinstance(value, dict):
        raise MalformedFrame(f"{data.get('event')} frame without a {name!r} object")
    return value


def _string(data: dict[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedFrame(f"{where} without a string {name!r}")
    return value


class TwilioDialect(MediaDialect):
    """One stream's frames. Remembers the ``streamSid`` of ``start`` and checks later frames carry it."""

    def __init__(self) -> None:
        self.stream_sid: str | None = None
        self.call_sid: str | None = None
        self.last_sequence: int | None = None
        self.out_of_order = 0
        self._media_prefix = ""
        self._clear = ""
        self._mark_prefix = ""

    # -- from Twilio ---------------------------------------------------------------------------

    def parse(self, message: str | bytes) -> MediaEvent | StreamStart | None:
        data = json_frame(message)
        event = data.get("event")
        if event == "connected":
            return None
        self._check_sequence(data.get("sequenceNumber"))
        if event == "start":
            return self._start(data)
        if self.stream_sid is None:
            raise MalformedFrame(f"{str(event)[:20]!r} frame before start")
        sid = data.get("streamSid")
        if sid is not None and sid != self.stream_sid:
            raise MalformedFrame(f"frame for another stream ({str(sid)[:40]!r})")
        if event == "media":
            return self._media(data)
        if event == "dtmf":
            digit = _string(_object(data, "dtmf"), "digit", "dtmf")
            if len(digit) != 1 or digit not in DTMF_DIGITS:
                raise MalformedFrame(f"dtmf digit {digit[:8]!r} is not a key")
            return DtmfReceived(digit.upper())
        if event == "mark":
            return MarkPlayed(_string(_object(data, "mark"), "name", "mark"))
        if event == "stop":
            return StreamStopped("stop")
        raise MalformedFrame(f"unknown event {str(event)[:40]!r}")

    def _check_sequence(self, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise MalformedFrame("sequenceNumber is neither a string nor a number")
        try:
            number = int(value)
        except ValueError:
            raise MalformedFrame(f"sequenceNumber {str(value)[:20]!r} is not a number") from None
        if self.last_sequence is not None and number <= self.last_sequence:
            self.out_of_order += 1  # counted, not fatal: Twilio delivers over one TCP stream
        self.last_sequence = number

    def _start(self, data: dict[str, Any]) -> StreamStart:
        if self.stream_sid is not None:
            raise MalformedFrame("a second start on the same stream")
        start = _object(data, "start")
        call_sid = _string(start, "callSid", "start")
        stream_sid = start.get("streamSid", data.get("streamSid"))
        if not isinstance(stream_sid, str) or not stream_sid:
            raise MalformedFrame("start without a streamSid")
        raw_params = start.get("customParameters", {})
        if not isinstance(raw_params, dict):
            raise MalformedFrame("start.customParameters is not an object")
        params = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in raw_params.items()}
        fmt = media_format(start.get("mediaFormat"))
        self.stream_sid, self.call_sid = stream_sid, call_sid
        encoded = json.dumps(stream_sid)
        self._media_prefix = '{"event":"media","streamSid":' + encoded + ',"media":{"payload":"'
        self._clear = '{"event":"clear","streamSid":' + encoded + "}"
        self._mark_prefix = '{"event":"mark","streamSid":' + encoded + ',"mark":{"name":'
        return StreamStart(
            call_id=call_sid,
            stream_id=stream_sid,
            format=fmt,
            parameters=params,
            caller=params.get("caller", ""),
            callee=params.get("callee", ""),
        )

    @staticmethod
    def _media(data: dict[str, Any]) -> AudioReceived | None:
        media = _object(data, "media")
        track = media.get("track", "inbound")
        if track in ("outbound", "outbound_track"):
            return None  # what Twilio plays to the caller (both_tracks streams): not caller audio
        if track not in ("inbound", "inbound_track"):
            raise MalformedFrame(f"media on unknown track {str(track)[:20]!r}")
        payload = media.get("payload")
        if not isinstance(payload, str):
            raise MalformedFrame("media without a string payload")
        try:
            audio = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedFrame("media payload is not base64") from None
        return AudioReceived(audio) if audio else None

    # -- to Twilio -----------------------------------------------------------------------------

    def _require_start(self) -> None:
        if self.stream_sid is None:
            raise RuntimeError("nothing may be sent to Twilio before the stream's start (no streamSid yet)")

    def audio_message(self, payload: bytes) -> str:
        self._require_start()
        return self._media_prefix + base64.b64encode(payload).decode("ascii") + '"}}'

    def mark_message(self, name: str) -> str:
        self._require_start()
        return self._mark_prefix + json.dumps(name) + "}}"  # prebuilt like media frames (ten a second)

    def clear_message(self) -> str:
        self._require_start()
        return self._clear
