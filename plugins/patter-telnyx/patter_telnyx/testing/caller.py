"""Telnyx's side of a media stream, for :class:`patter_core.testing.SimulatedCaller`.

Frames exactly as PROTOCOLS.md §2.6 shows them: snake_case, ``stream_id`` top-level, string
``sequence_number`` counting every frame after ``connected``, ``media.chunk`` counting media frames,
``media.timestamp`` in milliseconds. What the server sends back is checked the way Telnyx would:
only ``media`` (base64 payload of whole samples, at least 20 ms: RTP mode takes 20 ms to 30 s),
``mark`` with a name, and ``clear``; anything else is a protocol error.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from patter_core.audio.format import L16_16K, AudioFormat
from patter_core.testing.caller import CallerDialect, Outbound

__all__ = ["TelnyxCallerDialect"]


class TelnyxCallerDialect(CallerDialect):
    def __init__(
        self,
        call_control_id: str,
        *,
        format: AudioFormat = L16_16K,
        encoding: str = "L16",
        stream_id: str | None = None,
        caller: str = "+15551230000",
        callee: str = "+15559870000",
        client_state: str | None = None,
        custom_parameters: Mapping[str, str] | None = None,
        token_in_connected: str | None = None,
        track: str = "inbound",
    ) -> None:
        self.call_control_id = call_control_id
        self.format = format
        self.encoding = encoding
        self.stream_id = stream_id or str(uuid.uuid4()).upper()
        self.caller, self.callee = caller, callee
        self.client_state = client_state
        self.custom_parameters = dict(custom_parameters or {})
        self.token_in_connected = token_in_connected
        self.track = track
        self.user_id = str(uuid.uuid4()).upper()
        self.sent_audio = bytearray()
        """Every media payload sent so far (speech and line silence), in order."""
        self._seq = 0

    def _next(self) -> str:
        self._seq += 1
        return str(self._seq)

    def _frame(self, event: str, **fields: Any) -> str:
        return json.dumps(
            {"event": event, "sequence_number": self._next(), "stream_id": self.stream_id, **fields}
        )

    def connected(self) -> str:
        frame: dict[str, Any] = {"event": "connected", "version": "1.0.0"}
        if self.token_in_connected is not None:
            frame["stream_auth_token"] = self.token_in_connected
        return json.dumps(frame)

    def start(self) -> str:
        start: dict[str, Any] = {
            "user_id": self.user_id,
            "call_control_id": self.call_control_id,
            "call_session_id": str(uuid.uuid5(uuid.NAMESPACE_URL, self.call_control_id)),
            "from": self.caller,
            "to": self.callee,
            "tags": [],
            "client_state": self.client_state,
            "custom_parameters": self.custom_parameters,
            "media_format": {
                "encoding": self.encoding,
                "sample_rate": self.format.sample_rate,
                "channels": 1,
            },
        }
        return self._frame("start", start=start)

    def media(self, payload: bytes, index: int, timestamp_ms: int) -> str:
        self.sent_audio += payload
        media = {
            "track": self.track,
            "chunk": str(index + 1),
            "timestamp": str(timestamp_ms),
            "payload": base64.b64encode(payload).decode(),
        }
        return self._frame("media", media=media)

    def dtmf(self, digit: str) -> str:
        occurred = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return self._frame("dtmf", occurred_at=occurred, dtmf={"digit": digit})

    def mark(self, name: str) -> str:
        return self._frame("mark", mark={"name": name})

    def stop(self) -> str:
        return self._frame("stop", stop={"user_id": self.user_id, "call_control_id": self.call_control_id})

    def error(self, code: int = 100003, title: str = "malformed_frame", detail: str = "") -> str:
        return json.dumps(
            {
                "event": "error",
                "stream_id": self.stream_id,
                "payload": {"code": code, "title": title, "detail": detail},
            }
        )

    def parse_outbound(self, message: str | bytes) -> Outbound | None:
        if isinstance(message, bytes):
            raise ValueError("binary frame: Telnyx expects JSON text frames")
        try:
            data = json.loads(message)
        except ValueError:
            raise ValueError(f"not JSON: {message[:80]}") from None
        if not isinstance(data, dict):
            raise ValueError("frame is not a JSON object")
        event = data.get("event")
        if event == "media":
            media = data.get("media")
            payload = media.get("payload") if isinstance(media, dict) else None
            if not isinstance(payload, str):
                raise ValueError("media frame without media.payload")
            try:
                audio = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("media.payload is not base64 (Telnyx error 100004 invalid_media)") from None
            if len(audio) % self.format.sample_width or len(audio) < self.format.frame_bytes(20):
                raise ValueError(f"RTP media chunk of {len(audio)} bytes: need whole samples, 20 ms to 30 s")
            return ("media", audio)
        if event == "mark":
            mark = data.get("mark")
            name = mark.get("name") if isinstance(mark, dict) else None
            if not isinstance(name, str):
                raise ValueError("mark frame without mark.name")
            return ("mark", name)
        if event == "clear":
            return ("clear", None)
        raise ValueError(f"unexpected frame from the server: {message[:80]}")
