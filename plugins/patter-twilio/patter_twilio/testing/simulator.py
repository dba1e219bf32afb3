"""Twilio's side of a call, for tests: signed voice webhook, TwiML, then a real Media Streams socket.

:class:`TwilioCallerSimulator` does what Twilio does when someone calls your number:

1. POSTs the voice webhook with the §1.2 form fields, signed (``X-Twilio-Signature``) over the
   *public* URL ``https://{webhook_url}/webhooks/twilio/voice`` while connecting to the local server;
2. parses the TwiML answer like Twilio: ``<Connect><Stream url="wss://...">`` with ``<Parameter>``s,
   rejecting a stream URL that is not ``wss://`` or carries a query string;
3. opens the WebSocket (public ``wss://{webhook_url}`` rewritten to the local server) with the
   upgrade signature, and drives a :class:`patter_core.testing.SimulatedCaller` through
   :class:`TwilioCallerDialect`: ``connected``, ``start`` (``customParameters``), 20 ms ``media`` frames
   with string ``sequenceNumber``/``chunk``/``timestamp``, ``dtmf``, mark echoes after playback, ``stop``.

Playout, mark echo timing and ``clear`` semantics are the core's :class:`SimulatedCaller`'s.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import httpx

from patter_core.testing.caller import CallerDialect, Outbound, SimulatedCaller
from patter_twilio.signature import compute_signature

__all__ = [
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_AUTH_TOKEN",
    "PublicAddress",
    "StreamInstruction",
    "TwiMLError",
    "TwilioCallerDialect",
    "TwilioCallerSimulator",
    "new_sid",
    "parse_stream_twiml",
]

DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "test-auth-token-0123456789"


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters + 32 lowercase hex."""
    return prefix + secrets.token_hex(16)


class TwiMLError(ValueError):
    """TwiML that Twilio would refuse or could not follow to a media stream."""


@attrs.frozen
class StreamInstruction:
    url: str
    parameters: dict[str, str]


def parse_stream_twiml(document: str) -> StreamInstruction | None:
    """The ``<Connect><Stream>`` of a TwiML answer (``None`` if it has none, e.g. ``<Hangup/>``)."""
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        raise TwiMLError(f"TwiML is not well-formed XML: {exc}") from None
    if root.tag != "Response":
        raise TwiMLError(f"TwiML root must be <Response>, got <{root.tag}>")
    stream = root.find("./Connect/Stream")
    if stream is None:
        return None
    url = stream.get("url", "")
    if not url.startswith("wss://"):
        raise TwiMLError(f"<Stream url> must be an absolute wss:// URL, got {url!r}")
    if "?" in url:
        raise TwiMLError(f"<Stream url> must not carry a query string (Twilio drops it): {url!r}")
    parameters: dict[str, str] = {}
    for param in stream.findall("./Parameter"):
        name, value = param.get("name"), param.get("value")
        if name is None or value is None:
            raise TwiMLError("<Parameter> needs both name and value")
        parameters[name] = value
    return StreamInstruction(url=url, parameters=parameters)


@attrs.frozen
class PublicAddress:
    """Maps the public host Twilio would reach (``webhook_url``) to the local test server."""

    webhook_url: str
    local_base: str
    """``http://127.0.0.1:<port>``."""

    def to_local(self, public: str) -> str:
        for scheme, local_scheme in (("https://", "http://"), ("wss://", "ws://")):
            prefix = f"{scheme}{self.webhook_url}"
            if public.startswith(prefix) and public[len(prefix) : len(prefix) + 1] in ("", "/", "?"):
                base = self.local_base
                if local_scheme == "ws://":
                    base = "ws://" + base.split("://", 1)[1]
                return base + public[len(prefix) :]
        raise ValueError(f"{public!r} is not on the public host {self.webhook_url!r}")


_OUTBOUND_SHAPES: dict[str, tuple[set[str], set[str]]] = {
    "media": ({"event", "streamSid", "media"}, {"payload"}),
    "mark": ({"event", "streamSid", "mark"}, {"name"}),
    "clear": ({"event", "streamSid"}, set()),
}


class TwilioCallerDialect(CallerDialect):
    """Twilio's Media Streams frames from Twilio's side (every frame after ``connected`` numbered)."""

    def __init__(
        self,
        *,
        call_sid: str,
        stream_sid: str,
        account_sid: str,
        custom_parameters: dict[str, str],
        tracks: Sequence[str] = ("inbound",),
        strict: bool = True,
    ) -> None:
        self.strict = strict
        self.call_sid, self.stream_sid, self.account_sid = call_sid, stream_sid, account_sid
        self.custom_parameters = dict(custom_parameters)
        self.tracks = list(tracks)
        self._sequence = 0

    def _next(self) -> str:
        self._sequence += 1
        return str(self._sequence)

    def _frame(self, event: str, body: dict[str, Any] | None = None) -> str:
        frame: dict[str, Any] = {"event": event, "sequenceNumber": self._next(), "streamSid": self.stream_sid}
        frame.update(body or {})
        return json.dumps(frame)

    def connected(self) -> str:
        return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})

    def start(self) -> str:
        return self._frame(
            "start",
            {
                "start": {
                    "streamSid": self.stream_sid,
                    "accountSid": self.account_sid,
                    "callSid": self.call_sid,
                    "tracks": self.tracks,
                    "customParameters": self.custom_parameters,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                }
            },
        )

    def media(self, payload: bytes, index: int, timestamp_ms: int) -> str:
        return self._frame(
            "media",
            {
                "media": {
                    "track": "inbound",
                    "chunk": str(index + 1),
                    "timestamp": str(timestamp_ms),
                    "payload": base64.b64encode(payload).decode("ascii"),
                }
            },
        )

    def dtmf(self, digit: str) -> str:
        return self._frame("dtmf", {"dtmf": {"track": "inbound_track", "digit": digit}})

    def mark(self, name: str) -> str:
        return self._frame("mark", {"mark": {"name": name}})

    def stop(self) -> str:
        return self._frame("stop", {"stop": {"accountSid": self.account_sid, "callSid": self.call_sid}})

    def parse_outbound(self, message: str | bytes) -> Outbound | None:
        """What the server sent; ``ValueError`` for anything Twilio would not accept (or, with
        ``strict``, any field beyond the documented ones)."""
        if isinstance(message, bytes):
            raise ValueError("Twilio expects text frames, got a binary frame")
        try:
            data = json.loads(message)
        except ValueError:
            raise ValueError(f"not JSON: {message[:80]!r}") from None
        if not isinstance(data, dict):
            raise ValueError("frame is not a JSON object")
        if data.get("streamSid") != self.stream_sid:
            raise ValueError(f"frame without this stream's streamSid: {message[:120]}")
        event = data.get("event")
        expected = _OUTBOUND_SHAPES.get(str(event))
        if self.strict and expected is not None and set(data) != expected[0]:
            raise ValueError(f"{event} frame with fields {sorted(data)}, expected {sorted(expected[0])}")
        inner = data.get(str(event))
        if self.strict and expected is not None and isinstance(inner, dict) and set(inner) != expected[1]:
            raise ValueError(
                f"{event} frame with {event} fields {sorted(inner)}, expected {sorted(expected[1])}"
            )
        if event == "media":
            media = data.get("media")
            if not isinstance(media, dict) or not isinstance(media.get("payload"), str):
                raise ValueError("media frame without media.payload")
            try:
                return ("media", base64.b64decode(media["payload"], validate=True))
            except (binascii.Error, ValueError):
                raise ValueError("media payload is not base64") from None
        if event == "mark":
            mark = data.get("mark")
            if not isinstance(mark, dict) or not isinstance(mark.get("name"), str):
                raise ValueError("mark frame without mark.name")
            return ("mark", mark["name"])
        if event == "clear":
            return ("clear", None)
        raise ValueError(f"unexpected event from the server: {str(event)[:40]!r}")


class TwilioCallerSimulator:
    """One call as Twilio places it on your server; see the module docstring.

    ``server`` is the local base (``http://127.0.0.1:<port>``), ``webhook_url`` the public host the
    server was configured with. Knobs: ``sign=False`` / ``signature=`` (forge the webhook signature),
    ``sign_upgrade=False``, ``extra_fields`` (e.g. ``AnsweredBy``), ``realtime=False`` (no pacing).
    """

    def __init__(
        self,
        *,
        server: str,
        webhook_url: str,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        call_sid: str | None = None,
        from_: str = "+15550001111",
        to: str = "+15550002222",
        direction: str = "inbound",
        voice_url: str | None = None,
        extra_fields: dict[str, str] | None = None,
        realtime: bool = True,
        sign: bool = True,
        signature: str | None = None,
        sign_upgrade: bool = True,
        on_connected: Callable[[TwilioCallerSimulator], None] | None = None,
    ) -> None:
        self.address = PublicAddress(webhook_url, server.rstrip("/"))
        self.auth_token, self.account_sid = auth_token, account_sid
        self.call_sid = call_sid or new_sid("CA")
        self.stream_sid = new_sid("MZ")
        self.from_, self.to, self.direction = from_, to, direction
        self.voice_url = voice_url or f"https://{webhook_url}/webhooks/twilio/voice"
        self.extra_fields = dict(extra_fields or {})
        self.realtime = realtime
        self.sign, self.signature, self.sign_upgrade = sign, signature, sign_upgrade
        self.on_connected = on_connected
        self.twiml: str | None = None
        self.stream: StreamInstruction | None = None
        self.caller: SimulatedCaller | None = None

    # -- the webhook -----------------------------------------------------------------------------

    def form(self) -> list[tuple[str, str]]:
        """The voice webhook's form fields (PROTOCOLS §1.2), blanks included as Twilio sends them."""
        fields = [
            ("AccountSid", self.account_sid),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", self.call_sid),
            ("CallStatus", "ringing" if self.direction == "inbound" else "in-progress"),
            ("Called", self.to),
            ("CalledCity", ""),
            ("CalledCountry", "US"),
            ("CalledState", "CA"),
            ("CalledZip", ""),
            ("Caller", self.from_),
            ("CallerCity", "SAN FRANCISCO"),
            ("CallerCountry", "US"),
            ("CallerState", "CA"),
            ("CallerZip", "94105"),
            ("Direction", self.direction),
            ("From", self.from_),
            ("FromCity", "SAN FRANCISCO"),
            ("FromCountry", "US"),
            ("FromState", "CA"),
            ("FromZip", "94105"),
            ("To", self.to),
            ("ToCity", ""),
            ("ToCountry", "US"),
            ("ToState", "CA"),
            ("ToZip", ""),
        ]
        return fields + list(self.extra_fields.items())

    async def post_voice(self, form: Sequence[tuple[str, str]] | None = None) -> httpx.Response:
        """POST the (signed) voice webhook; returns the server's response."""
        fields = list(self.form() if form is None else form)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if self.signature is not None:
            headers["X-Twilio-Signature"] = self.signature
        elif self.sign:
            headers["X-Twilio-Signature"] = compute_signature(self.voice_url, fields, self.auth_token)
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(
                self.address.to_local(self.voice_url), data=_form_dict(fields), headers=headers
            )

    # -- the media stream ------------------------------------------------------------------------

    async def connect(self) -> SimulatedCaller:
        """Webhook, TwiML, then the media socket; returns the running :class:`SimulatedCaller`."""
        response = await self.post_voice()
        if response.status_code != 200:
            raise TwiMLError(f"voice webhook answered HTTP {response.status_code}: {response.text[:200]}")
        self.twiml = response.text
        self.stream = parse_stream_twiml(response.text)
        if self.stream is None:
            raise TwiMLError(f"the TwiML has no <Connect><Stream>: {response.text[:200]}")
        return await self.open_stream(self.stream)

    async def open_stream(
        self, stream: StreamInstruction, *, parameters: dict[str, str] | None = None
    ) -> SimulatedCaller:
        headers = {}
        if self.sign_upgrade:
            headers["X-Twilio-Signature"] = compute_signature(stream.url, None, self.auth_token)
        dialect = TwilioCallerDialect(
            call_sid=self.call_sid,
            stream_sid=self.stream_sid,
            account_sid=self.account_sid,
            custom_parameters=stream.parameters if parameters is None else parameters,
        )
        caller = SimulatedCaller(
            self.address.to_local(stream.url), dialect, headers=headers, realtime=self.realtime
        )
        await caller.connect()
        self.caller = caller
        if self.on_connected is not None:
            self.on_connected(self)
        return caller

    async def __aenter__(self) -> TwilioCallerSimulator:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def live(self) -> SimulatedCaller:
        if self.caller is None:
            raise RuntimeError("not connected: call connect() first")
        return self.caller

    async def send_raw(self, message: str) -> None:
        """Send an arbitrary frame on the media socket (malformed-input tests)."""
        await self.live._send(message)

    async def close(self) -> None:
        if self.caller is not None and not self.caller.closed.is_set():
            await self.caller.close()

    # -- the caller's actions (delegated to the SimulatedCaller) ----------------------------------

    async def say(self, audio: bytes) -> None:
        await self.live.say(audio)

    async def silence(self, ms: float) -> None:
        await self.live.silence(ms)

    async def press(self, digit: str) -> None:
        await self.live.press(digit)

    async def hang_up(self) -> None:
        await self.live.hang_up()

    async def drop(self) -> None:
        await self.live.drop()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        await self.live.wait_for(predicate, timeout)

    @property
    def heard(self) -> bytes:
        return bytes(self.live.heard)

    @property
    def heard_ms(self) -> float:
        return self.live.heard_ms


def _form_dict(fields: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in fields:
        out.setdefault(name, []).append(value)
    return out
