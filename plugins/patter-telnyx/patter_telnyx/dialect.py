"""Telnyx's media-stream frames (PROTOCOLS.md §2.6): snake_case JSON text frames.

From Telnyx: ``connected``, ``start`` (``stream_id`` top-level; ``start.call_control_id``,
``start.media_format``, ``start.custom_parameters``), ``media`` (``media.track``, ``media.chunk``,
``media.payload``: base64 of a raw RTP payload), ``dtmf``, ``mark`` (echo after playback or on clear),
``error`` and ``stop``. To Telnyx: ``{"event":"media","media":{"payload":...}}``, ``mark`` and ``clear``;
no ``stream_id`` is needed on outbound frames.

Parsing is strict: anything unexpected raises :class:`~patter_core.interfaces.MalformedFrame` (the
channel logs and drops it). ``outbound``-track media (with ``both_tracks``: the agent's own voice) is
dropped; ``error`` frames are logged. Caller audio is put back in order by ``media.chunk`` with a small
jitter window (:mod:`patter_telnyx.reorder`); when one frame releases several, :meth:`parse` returns the
first and :meth:`TelnyxDialect.take_ready` the rest (the channel drains it after every frame).

DTMF arrives on the stream *and* as ``call.dtmf.received`` webhooks; this plugin delivers the stream's
(ordered with the audio, no extra HTTP hop) and ignores the webhook, so a key press reaches the agent once.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from patter_core.audio.format import AudioFormat
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
from patter_telnyx.codec import L16, format_of_media_format
from patter_telnyx.reorder import Reorderer

__all__ = ["AUTH_TOKEN_FIELDS", "TelnyxDialect"]

log = logging.getLogger("patter.telnyx")

AUTH_TOKEN_FIELDS = ("stream_auth_token", "auth_token", "token")
"""Where a ``connected`` frame may carry the stream's auth token (the header is the primary channel)."""

_DIGITS = frozenset("0123456789*#ABCD")
_MAX_ERRORS_LOGGED = 5


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def _parameters(value: object) -> dict[str, str]:
    """``custom_parameters`` as a dict: documented as an object; accept ``[{"name","value"}]`` too."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items() if isinstance(k, str)}
    if isinstance(value, list):
        out: dict[str, str] = {}
        for item in value:
            if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                out[item["name"]] = str(item.get("value", ""))
        return out
    return {}


class TelnyxDialect(MediaDialect):
    """One stream's parser and frame builder (keeps the stream id, auth token and jitter buffer)."""

    def __init__(self, *, default_format: AudioFormat = L16.format, reorder_window: int = 3) -> None:
        self.default_format = default_format
        self.stream_id: str | None = None
        self.version: str | None = None
        self.auth_token: str | None = None
        """The token a ``connected`` frame carried, if any."""
        self.start_format: AudioFormat | None = None
        """The format the ``start`` frame announced (``None`` when it did not say)."""
        self.reorder: Reorderer[bytes] = Reorderer(window=reorder_window)
        self.outbound_dropped = 0
        self.errors: deque[Mapping[str, Any]] = deque(maxlen=20)
        """The last ``error`` frames' payloads."""
        self._ready: deque[MediaEvent] = deque()

    # -- in ------------------------------------------------------------------------------------

    def parse(self, message: str | bytes) -> MediaEvent | StreamStart | None:
        if isinstance(message, bytes):
            raise MalformedFrame("binary frame on a Telnyx stream (frames are JSON text)")
        data = json_frame(message)
        event = data.get("event")
        if event == "media":
            return self._media(data.get("media"))
        if event == "dtmf":
            dtmf = data.get("dtmf")
            digit = dtmf.get("digit") if isinstance(dtmf, dict) else None
            if not isinstance(digit, str) or digit.upper() not in _DIGITS or len(digit) != 1:
                raise MalformedFrame(f"dtmf without a valid digit: {str(dtmf)[:40]}")
            return DtmfReceived(digit.upper())
        if event == "mark":
            mark = data.get("mark")
            name = mark.get("name") if isinstance(mark, dict) else None
            if not isinstance(name, str):
                raise MalformedFrame("mark without a name")
            return MarkPlayed(name)
        if event == "stop":
            held: list[MediaEvent] = [AudioReceived(p) for p in self.reorder.flush()]
            return self._emit([*held, StreamStopped("stop")])
        if event == "connected":
            self.version = str(data.get("version", ""))[:20]
            for field in AUTH_TOKEN_FIELDS:
                if isinstance(data.get(field), str):
                    self.auth_token = data[field]
                    break
            return None
        if event == "start":
            return self._start(data)
        if event == "error":
            payload = data.get("payload")
            details = payload if isinstance(payload, dict) else {"detail": str(payload)[:200]}
            self.errors.append(details)
            if len(self.errors) <= _MAX_ERRORS_LOGGED:
                log.warning(
                    "Telnyx stream %s reported error %s %s: %s",
                    self.stream_id,
                    details.get("code"),
                    details.get("title"),
                    str(details.get("detail", ""))[:200],
                )
            return None
        raise MalformedFrame(f"unknown or incomplete event {str(event)[:40]!r}")

    def _media(self, media: object) -> AudioReceived | None:
        if not isinstance(media, dict):
            raise MalformedFrame("media frame without a media object")
        track = media.get("track", "inbound")
        if track == "outbound":
            self.outbound_dropped += 1
            return None
        if track != "inbound":
            raise MalformedFrame(f"unknown media track {str(track)[:20]!r}")
        payload = media.get("payload")
        if not isinstance(payload, str) or not payload:
            raise MalformedFrame("media without a payload")
        try:
            audio = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedFrame("media payload is not base64") from None
        ready = self.reorder.push(_as_int(media.get("chunk")), audio)
        event = self._emit([AudioReceived(p) for p in ready])
        assert event is None or isinstance(event, AudioReceived)
        return event

    def _start(self, data: dict[str, Any]) -> StreamStart:
        start = data.get("start")
        if not isinstance(start, dict):
            raise MalformedFrame("start frame without a start object")
        call_id = start.get("call_control_id")
        if not isinstance(call_id, str) or not call_id:
            raise MalformedFrame("start without a call_control_id")
        stream_id = data.get("stream_id", start.get("stream_id"))
        self.stream_id = stream_id if isinstance(stream_id, str) else None
        media_format = start.get("media_format")
        fmt: AudioFormat | None = None
        if media_format is not None:
            if not isinstance(media_format, dict):
                raise MalformedFrame("media_format is not an object")
            fmt = format_of_media_format(media_format)
            if fmt is None:
                raise MalformedFrame(f"unsupported media_format {json.dumps(media_format)[:80]}")
        self.start_format = fmt
        caller, callee = start.get("from"), start.get("to")
        return StreamStart(
            call_id=call_id,
            stream_id=self.stream_id,
            format=fmt or self.default_format,
            parameters=_parameters(start.get("custom_parameters")),
            caller=caller if isinstance(caller, str) else "",
            callee=callee if isinstance(callee, str) else "",
        )

    def _emit(self, events: Sequence[MediaEvent]) -> MediaEvent | None:
        if not events:
            return None
        self._ready.extend(events[1:])
        return events[0]

    def take_ready(self) -> list[MediaEvent]:
        """Events released together with the last parsed one (in order)."""
        ready = list(self._ready)
        self._ready.clear()
        return ready

    # -- out -----------------------------------------------------------------------------------

    def audio_message(self, payload: bytes) -> str:
        return '{"event":"media","media":{"payload":"' + base64.b64encode(payload).decode("ascii") + '"}}'

    def mark_message(self, name: str) -> str:
        return json.dumps({"event": "mark", "mark": {"name": name}}, separators=(",", ":"))

    def clear_message(self) -> str:
        return '{"event":"clear"}'
