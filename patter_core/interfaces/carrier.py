"""Carriers: the telephone network side of a call.

A carrier plugin does three things:

1. **mounts its routes** on the core's server (:meth:`Carrier.mount`): webhooks it verifies, and the
   media WebSocket it authenticates before anything else happens;
2. **turns its media stream into a** :class:`MediaChannel`, usually by giving the core's generic
   :class:`patter_core.server.media.JsonMediaChannel` a small :class:`MediaDialect` that parses and
   builds its JSON frames, then hands it to :meth:`CallHost.run_call`;
3. **controls calls** through its REST API: outbound calls, hang-up, transfer, DTMF, recording.

The session loop only ever sees :class:`MediaChannel` and the call-control methods, so every carrier
gets barge-in, pacing, playback tracking and recording from the same code.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from patter_core.audio.format import MULAW_8K, AudioFormat

if TYPE_CHECKING:
    from patter_core.server.http import HttpRequest, HttpResponse, WebSocketConnection

__all__ = [
    "AudioReceived",
    "CallHost",
    "CallInfo",
    "CallOutcome",
    "CallStatusEvent",
    "Carrier",
    "CarrierCapabilities",
    "DtmfReceived",
    "MalformedFrame",
    "MarkPlayed",
    "MediaChannel",
    "MediaDialect",
    "MediaEvent",
    "OutboundCallRequest",
    "StreamStart",
    "StreamStopped",
    "WarmTransfer",
]


@attrs.frozen(slots=True)
class CarrierCapabilities:
    marks: bool = True
    """The media stream echoes marks after playback (needed for exact barge-in bookkeeping)."""
    dtmf_in: bool = True
    dtmf_out: bool = False
    """DTMF can be sent through the REST API; otherwise the session plays in-band tones."""
    outbound_calls: bool = True
    transfer: bool = True
    warm_transfer: bool = False
    recording: bool = False
    machine_detection: bool = False


@attrs.define
class CallInfo:
    """What is known about a call. ``call_id`` is the carrier's id (it controls the call)."""

    call_id: str
    carrier: str
    direction: str = "inbound"
    caller: str = ""
    callee: str = ""
    stream_id: str | None = None
    parameters: Mapping[str, str] = attrs.field(factory=dict)
    """Extra per-call values the carrier passed along (custom stream parameters)."""


# -- media events (carrier -> session) ----------------------------------------------------------


@attrs.frozen(slots=True)
class AudioReceived:
    """One chunk of caller audio in the channel's wire format (usually 20 ms)."""

    payload: bytes


@attrs.frozen(slots=True)
class DtmfReceived:
    digit: str


@attrs.frozen(slots=True)
class MarkPlayed:
    """The carrier echoed a mark: the audio sent before it has played (or was cleared)."""

    name: str


@attrs.frozen(slots=True)
class StreamStopped:
    reason: str = "stop"


MediaEvent = AudioReceived | DtmfReceived | MarkPlayed | StreamStopped


@attrs.frozen
class StreamStart:
    """The parsed ``start`` message of a media stream."""

    call_id: str
    stream_id: str | None
    format: AudioFormat = MULAW_8K
    parameters: Mapping[str, str] = attrs.field(factory=dict)
    caller: str = ""
    callee: str = ""


class MalformedFrame(ValueError):
    """A media frame that cannot be understood; the channel logs it and drops it."""


class MediaDialect(abc.ABC):
    """How one carrier spells its media-stream frames. One instance per stream (it may keep the
    stream id from ``start``). Parsing must be strict: anything unexpected raises
    :class:`MalformedFrame`, never another exception."""

    @abc.abstractmethod
    def parse(self, message: str | bytes) -> MediaEvent | StreamStart | None:
        """Parse one received frame. ``None`` = understood and nothing to do (e.g. ``connected``)."""

    @abc.abstractmethod
    def audio_message(self, payload: bytes) -> str:
        """The frame that plays ``payload`` (wire format) to the caller."""

    @abc.abstractmethod
    def mark_message(self, name: str) -> str: ...

    @abc.abstractmethod
    def clear_message(self) -> str: ...


class MediaChannel(abc.ABC):
    """One call's media stream as the session sees it."""

    call: CallInfo
    format: AudioFormat
    supports_marks: bool = True

    @abc.abstractmethod
    def events(self) -> AsyncIterator[MediaEvent]:
        """Caller audio, DTMF and mark echoes until the stream ends (the iterator then stops)."""

    @abc.abstractmethod
    async def send_audio(self, frame: bytes) -> None:
        """Play one frame (wire format, exact frame size) to the caller."""

    @abc.abstractmethod
    async def send_mark(self, name: str) -> None: ...

    @abc.abstractmethod
    async def clear(self) -> None:
        """Drop the audio queued at the carrier (barge-in)."""

    @abc.abstractmethod
    async def close(self, reason: str = "") -> None:
        """End the stream from our side; idempotent."""


# -- call control -------------------------------------------------------------------------------


class CallOutcome(enum.StrEnum):
    """How an outbound call attempt ended up."""

    ANSWERED = "answered"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELED = "canceled"
    COMPLETED = "completed"


@attrs.frozen
class CallStatusEvent:
    """A carrier status update for a call (from its status webhooks), normalised."""

    call_id: str
    status: str
    """The carrier's own status word (``ringing``, ``in-progress``, ``completed`` ...)."""
    outcome: CallOutcome | None = None
    """Set when the update decides the outcome of an outbound attempt."""
    answered_by: str | None = None
    """Machine-detection verdict (``human``, ``machine`` ...) when there is one."""
    duration_s: float | None = None
    details: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class OutboundCallRequest:
    to: str
    from_: str
    machine_detection: bool = False
    voicemail_message: str | None = None
    """Spoken (in the agent's voice) when a machine answers; the call then hangs up."""
    ring_timeout_s: int = 30
    time_limit_s: int | None = None
    parameters: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class WarmTransfer:
    """Hand the caller to a human after briefing them: the caller waits on hold audio while
    ``summary`` is spoken to the human, then both are connected."""

    summary: str
    hold_music_url: str | None = None


HttpHandler = Callable[["HttpRequest"], Awaitable["HttpResponse"]]
WebSocketHandler = Callable[["WebSocketConnection"], Awaitable[None]]


class CallHost(abc.ABC):
    """What the core's server offers a carrier (given to :meth:`Carrier.mount`)."""

    @property
    @abc.abstractmethod
    def webhook_url(self) -> str:
        """The public host name (and optional port) the carrier reaches us at, without a scheme."""

    def public_url(self, path: str) -> str:
        return f"https://{self.webhook_url}{path}"

    def stream_url(self, path: str) -> str:
        return f"wss://{self.webhook_url}{path}"

    @abc.abstractmethod
    def add_route(self, path: str, handler: HttpHandler, *, methods: tuple[str, ...] = ("POST",)) -> None:
        """Serve ``path`` (``{name}`` segments become ``request.path_params``)."""

    @abc.abstractmethod
    def add_websocket(self, path: str, handler: WebSocketHandler) -> None: ...

    @abc.abstractmethod
    def issue_call_token(self, call_id: str, **claims: str) -> str:
        """A short-lived credential binding a media stream to ``call_id`` (signed, stateless)."""

    @abc.abstractmethod
    def verify_call_token(self, token: str, call_id: str) -> Mapping[str, str] | None:
        """The token's claims when it is valid for ``call_id``, else ``None``."""

    @abc.abstractmethod
    async def run_call(self, channel: MediaChannel) -> None:
        """Run the agent on an authenticated media channel until the call ends."""

    @abc.abstractmethod
    def report_status(self, event: CallStatusEvent) -> None:
        """Deliver a call status update (outbound outcomes, machine detection, hang-ups)."""

    def voicemail_message_for(self, call_id: str) -> str | None:
        """The voicemail message configured for an outbound call, if any."""
        return None

    @property
    def accepting_calls(self) -> bool:
        """``False`` once the server is shutting down: carriers refuse new inbound calls (busy)
        instead of answering calls whose media stream would be refused."""
        return True


class Carrier(abc.ABC):
    """A telephony carrier provider."""

    name: str = "carrier"
    capabilities: CarrierCapabilities = CarrierCapabilities()
    wire_format: AudioFormat = MULAW_8K
    """The media stream's audio format."""

    @abc.abstractmethod
    def mount(self, host: CallHost) -> None:
        """Register webhook and media routes on the server."""

    def check_ready(self, *, verify_webhooks: bool = True) -> None:  # noqa: B027 - optional
        """Raise :class:`patter_core.errors.ConfigurationError` if the server must not start."""

    @abc.abstractmethod
    async def place_call(self, request: OutboundCallRequest, host: CallHost) -> str:
        """Start an outbound call; return its call id. Its media stream reaches ``host`` on answer."""

    @abc.abstractmethod
    async def hangup(self, call: CallInfo, *, message: str | None = None) -> None:
        """End the call; when ``message`` is given, the carrier speaks it first if it can (used for
        apologies when a provider fails). A call that already ended is success."""

    @abc.abstractmethod
    async def transfer(self, call: CallInfo, to: str, *, warm: WarmTransfer | None = None) -> None:
        """Connect the caller to ``to`` (already checked against the agent's allowed destinations)."""

    async def send_dtmf(self, call: CallInfo, digits: str) -> bool:
        """Send DTMF through the carrier's API; ``False`` means "not supported, play tones in-band"."""
        return False

    async def configure_number(self, phone_number: str, webhook_host: str) -> bool:
        """Point ``phone_number``'s voice webhook at ``webhook_host`` (opt-in, ``--configure-number``).

        Returns ``True`` when something changed, ``False`` when it already pointed there.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot configure numbers; use its console")

    async def check_credentials(self) -> str:
        """One read-only API call proving the credentials work; returns a short description.

        Raise :class:`patter_core.errors.CarrierError` (or ``ConfigurationError``) when they do not.
        """
        raise NotImplementedError(f"{type(self).__name__} has no credential check")

    async def start_recording(self, call: CallInfo) -> str | None:
        """Start the carrier's own recording; returns its id, or ``None`` when unsupported."""
        return None

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release HTTP clients when the application stops."""
