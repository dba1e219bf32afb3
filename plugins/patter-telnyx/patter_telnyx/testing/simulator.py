"""A Telnyx simulator: the fake Call Control API plus what Telnyx does around it.

::

    async with TelnyxSimulator() as sim:
        carrier = Telnyx(api_key=sim.api_key, connection_id="conn", public_key=sim.public_key,
                         base_url=sim.base_url)
        ... start Patter(carrier=carrier, webhook_url=sim.public_host).serve(...) on a port ...
        sim.connect_to(phone.port)
        call = await sim.incoming_call()          # signed call.initiated
        caller = await call.wait_media()          # after answer + streaming_start, on the real socket
        await caller.say(voice(800, L16_16K)); await caller.press("5")
        await call.hang_up()                      # WS stop + call.hangup + streaming.stopped

Like Telnyx it sends webhooks *after* answering a command: ``answer`` -> ``call.answered``;
``streaming_start`` -> ``streaming.started`` and a media WebSocket to ``stream_url`` (the public
``wss://{public_host}`` part is mapped to the local port) with the ``x-telnyx-streaming-auth-token``
header, driven by a :class:`~patter_core.testing.SimulatedCaller` in the requested codec (L16 big-endian
or PCMU; it plays agent audio in real time and echoes marks after playback); ``speak`` ->
``call.speak.started`` / ``call.speak.ended``; ``hangup`` / ``reject`` -> stream ``stop`` and
``call.hangup``; ``bridge`` -> ``call.bridged``. Outbound calls follow a :class:`Callee` script per
number (human, machine with beep, busy, no answer, rejected) including machine-detection events.

Knobs: ``sim.webhooks.duplicates`` / ``.max_delay_s`` (duplicated, reordered deliveries),
``auto_connect_media`` (False: record ``streaming_start`` but let the test open the socket),
``send_auth_header`` / ``token_in_connected`` (where the stream token travels), ``realtime``,
``api.fail(...)`` (REST failures). Everything is recorded: ``sim.api.requests``,
``sim.webhooks.deliveries``, and per call ``spoken``, ``dtmf_sent``, ``bridged_with`` ...
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

import attrs

from patter_core.audio.format import ALAW_8K, L16_16K, MULAW_8K, AudioFormat
from patter_core.testing.caller import SimulatedCaller
from patter_telnyx.testing.caller import TelnyxCallerDialect
from patter_telnyx.testing.fake_api import FakeCallControl
from patter_telnyx.testing.webhooks import TEST_PUBLIC_KEY, WebhookSender

__all__ = ["Callee", "SimCall", "TelnyxSimulator"]

_FORMATS: dict[str, AudioFormat] = {"L16": L16_16K, "PCMU": MULAW_8K, "PCMA": ALAW_8K}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@attrs.define
class Callee:
    """How the far end of an outbound call behaves."""

    answer: str = "human"
    """``human``, ``machine``, ``fax``, ``busy``, ``no_answer`` or ``reject``."""
    ring_s: float = 0.05
    detect_s: float = 0.2
    greeting_s: float = 0.4
    beep: bool = True
    """A machine's greeting ends with a beep (``call.machine.greeting.ended``); False: it never does."""


@attrs.define(eq=False)
class SimCall:
    sim: TelnyxSimulator
    call_control_id: str
    direction: str
    """``incoming`` or ``outgoing`` (Telnyx's words)."""
    from_: str
    to: str
    client_state: str | None = None
    state: str = "parked"
    call_leg_id: str = attrs.field(factory=lambda: str(uuid.uuid4()))
    call_session_id: str = attrs.field(factory=lambda: str(uuid.uuid4()))
    started_at: str = attrs.field(factory=_now)
    caller: SimulatedCaller | None = None
    """The media stream's far end (the caller on inbound calls, the callee on outbound ones)."""
    stream_params: dict[str, Any] | None = None
    stream_refused: bool = False
    spoken: list[str] = attrs.field(factory=list)
    dtmf_sent: list[str] = attrs.field(factory=list)
    transferred_to: str | None = None
    bridged_with: str | None = None
    recording: bool = False
    answered: asyncio.Event = attrs.field(factory=asyncio.Event)
    media_ready: asyncio.Event = attrs.field(factory=asyncio.Event)
    ended: asyncio.Event = attrs.field(factory=asyncio.Event)

    def payload(self, **fields: Any) -> dict[str, Any]:
        base = {
            "call_control_id": self.call_control_id,
            "call_leg_id": self.call_leg_id,
            "call_session_id": self.call_session_id,
            "connection_id": self.sim.connection_id,
            "client_state": self.client_state,
            "from": self.from_,
            "to": self.to,
            "direction": self.direction,
            "state": self.state,
            "start_time": self.started_at,
        }
        return {**base, **fields}

    async def wait_media(self, timeout: float = 10.0) -> SimulatedCaller:
        await asyncio.wait_for(self.media_ready.wait(), timeout)
        assert self.caller is not None
        return self.caller

    async def hang_up(self, cause: str = "normal_clearing", source: str = "caller") -> None:
        """The far end hangs up: stream ``stop``, then ``call.hangup`` and ``streaming.stopped``."""
        await self.sim.end_call(self, cause, source)

    async def send(self, event_type: str, **fields: Any) -> list[int]:
        """Deliver one more webhook about this call (fields override the payload's)."""
        return await self.sim.webhooks.send(event_type, self.payload(**fields))


class TelnyxSimulator:
    def __init__(
        self,
        *,
        api_key: str = "test-api-key",
        connection_id: str = "1234567890",
        public_host: str = "agent.test",
        realtime: bool = True,
        auto_connect_media: bool = True,
        send_auth_header: bool = True,
        token_in_connected: bool = False,
        webhook_delay_s: float = 0.01,
        speak_ms_per_word: float = 30.0,
    ) -> None:
        self.api_key, self.connection_id, self.public_host = api_key, connection_id, public_host
        self.public_key = TEST_PUBLIC_KEY
        self.realtime = realtime
        self.auto_connect_media = auto_connect_media
        self.send_auth_header = send_auth_header
        self.token_in_connected = token_in_connected
        self.webhook_delay_s = webhook_delay_s
        self.speak_ms_per_word = speak_ms_per_word
        self.api = FakeCallControl(api_key=api_key, on_dial=self._on_dial, on_command=self._on_command)
        self.api.add_application(  # the application our numbers are on, already pointing at public_host
            connection_id,
            application_name="Patter simulator",
            webhook_event_url=f"https://{public_host}/webhooks/telnyx/voice",
        )
        self.webhooks = WebhookSender(public_url=f"https://{public_host}/webhooks/telnyx/voice")
        self.calls: dict[str, SimCall] = {}
        self.callees: dict[str, Callee] = {}
        self.default_callee = Callee()
        self.port: int | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def base_url(self) -> str:
        return self.api.base_url

    async def __aenter__(self) -> TelnyxSimulator:
        await self.api.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for call in self.calls.values():
            if call.caller is not None:
                with contextlib.suppress(Exception):
                    await call.caller.close()
        await self.api.stop()
        await self.webhooks.aclose()

    def connect_to(self, port: int) -> None:
        """Deliver webhooks and open media streams to the Patter server listening on ``port``."""
        self.port = port
        self.webhooks.url = f"http://127.0.0.1:{port}/webhooks/telnyx/voice"

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- calls ---------------------------------------------------------------------------------

    async def incoming_call(
        self,
        from_: str = "+15551230000",
        to: str = "+15559870000",
        *,
        call_control_id: str | None = None,
        deliver: bool = True,
    ) -> SimCall:
        """A caller dials our number: ``call.initiated`` (incoming, parked) is delivered (unless
        ``deliver=False``: the test then sends the call's webhooks itself, in any order)."""
        call_id = call_control_id or f"v3:{uuid.uuid4().hex}_{uuid.uuid4().hex[:10]}"
        call = SimCall(self, call_id, "incoming", from_, to)
        self.calls[call_id] = call
        self.api.register_call(call_id, "incoming")
        if deliver:
            await self.webhooks.send("call.initiated", call.payload())
        return call

    async def end_call(self, call: SimCall, cause: str, source: str) -> None:
        if call.ended.is_set():
            return
        call.ended.set()
        call.state = "hangup"
        self.api.end(call.call_control_id)
        if call.caller is not None:
            with contextlib.suppress(Exception):
                await call.caller.hang_up()
        await self._emit(
            call,
            "call.hangup",
            hangup_cause=cause,
            hangup_source=source,
            sip_hangup_cause="200",
            end_time=_now(),
        )
        if call.stream_params is not None:
            await self._emit(call, "streaming.stopped", stream_url=call.stream_params.get("stream_url"))
        if call.recording:
            urls = {"wav": f"https://recordings.example/{call.call_leg_id}.wav"}
            await self._emit(call, "call.recording.saved", recording_urls=urls, channels="dual", format="wav")

    async def _emit(self, call: SimCall, event_type: str, **fields: Any) -> None:
        if self.webhook_delay_s:
            await asyncio.sleep(self.webhook_delay_s)
        if self.webhooks.url is not None:
            await self.webhooks.send(event_type, call.payload(**fields))

    # -- Telnyx's reactions to commands ----------------------------------------------------------

    async def _on_command(self, call_id: str, action: str, body: dict[str, Any]) -> None:
        call = self.calls.get(call_id)
        if call is None:
            return
        if isinstance(body.get("client_state"), str):
            call.client_state = body["client_state"]
        if action == "answer":
            call.state = "answered"
            call.answered.set()
            await self._emit(call, "call.answered")
        elif action == "reject":
            await self.end_call(call, "call_rejected", "callee")
        elif action == "hangup":
            await self.end_call(
                call, "normal_clearing", "callee" if call.direction == "incoming" else "caller"
            )
        elif action == "streaming_start":
            call.stream_params = dict(body)
            await self._emit(call, "streaming.started", stream_url=body.get("stream_url"))
            if self.auto_connect_media:
                await self.open_media(call)
        elif action == "streaming_stop" and call.caller is not None:
            await call.caller.hang_up()
            await self._emit(
                call, "streaming.stopped", stream_url=(call.stream_params or {}).get("stream_url")
            )
        elif action == "speak":
            call.spoken.append(str(body.get("payload")))
            await self._emit(call, "call.speak.started")
            await asyncio.sleep(self.speak_ms_per_word * len(str(body.get("payload")).split()) / 1000)
            if not call.ended.is_set():
                await self._emit(call, "call.speak.ended", status="completed")
        elif action == "transfer":
            call.transferred_to = str(body.get("to"))
            await self._emit(call, "call.bridged")
        elif action == "bridge":
            other = self.calls.get(str(body.get("call_control_id")))
            call.bridged_with = str(body.get("call_control_id"))
            if other is not None:
                other.bridged_with = call_id
            await self._emit(call, "call.bridged")
            if other is not None:
                await self._emit(other, "call.bridged")
        elif action == "send_dtmf":
            call.dtmf_sent.append(str(body.get("digits")))
        elif action == "record_start":
            call.recording = True

    def local_stream_url(self, stream_url: str) -> str:
        """``wss://{public_host}/...`` (what the server asked for) -> ``ws://127.0.0.1:{port}/...``."""
        prefix = f"wss://{self.public_host}/"
        if not stream_url.startswith(prefix) or self.port is None:
            raise ValueError(f"{stream_url!r} is not on this server's public host {self.public_host!r}")
        return f"ws://127.0.0.1:{self.port}/" + stream_url[len(prefix) :]

    async def open_media(self, call: SimCall) -> None:
        """Open the media stream the last ``streaming_start`` asked for (done automatically unless
        ``auto_connect_media=False``); a refused stream sends ``streaming.failed``."""
        body = call.stream_params or {}
        codec = str(body.get("stream_codec") or "default")
        fmt = _FORMATS.get(codec, MULAW_8K)  # "default": the call's codec, PCMU here
        try:
            local = self.local_stream_url(str(body.get("stream_url")))
        except ValueError:
            call.stream_refused = True
            await self._stream_failed(call, body)
            return
        token = body.get("stream_auth_token")
        headers = {"x-telnyx-streaming-auth-token": token} if token and self.send_auth_header else {}
        dialect = TelnyxCallerDialect(
            call.call_control_id,
            format=fmt,
            encoding=codec if codec in _FORMATS else "PCMU",
            caller=call.from_,
            callee=call.to,
            client_state=call.client_state,
            custom_parameters={p["name"]: p["value"] for p in body.get("custom_parameters") or []},
            token_in_connected=token if self.token_in_connected else None,
        )
        caller = SimulatedCaller(local, dialect, headers=headers, format=fmt, realtime=self.realtime)
        try:
            await caller.connect()
        except Exception:
            call.stream_refused = True
            await self._stream_failed(call, body)
            return
        call.caller = caller
        call.media_ready.set()

    async def _stream_failed(self, call: SimCall, body: dict[str, Any]) -> None:
        params = {"stream_url": body.get("stream_url"), "track": body.get("stream_track", "inbound_track")}
        await self._emit(
            call,
            "streaming.failed",
            failure_reason="connection_failed",
            stream_id=str(uuid.uuid4()),
            stream_type="websocket",
            stream_params=params,
        )

    # -- outbound --------------------------------------------------------------------------------

    async def _on_dial(self, call_id: str, body: dict[str, Any]) -> None:
        call = SimCall(
            self, call_id, "outgoing", str(body["from"]), str(body["to"]), body.get("client_state")
        )
        call.state = "bridging"
        self.calls[call_id] = call
        self.spawn(self._callee_script(call, self.callees.get(call.to, self.default_callee), body))

    async def _callee_script(self, call: SimCall, callee: Callee, body: dict[str, Any]) -> None:
        await self._emit(call, "call.initiated")
        await asyncio.sleep(callee.ring_s)
        ending = {
            "busy": ("user_busy", "callee"),
            "no_answer": ("timeout", "callee"),
            "reject": ("call_rejected", "callee"),
        }
        if callee.answer in ending:
            await self.end_call(call, *ending[callee.answer])
            return
        call.state = "answered"
        call.answered.set()
        await self._emit(call, "call.answered")
        amd = body.get("answering_machine_detection")
        if not amd or amd == "disabled":
            return
        await asyncio.sleep(callee.detect_s)
        premium = str(amd).startswith("premium")
        machine = callee.answer == "machine"
        result = "machine" if machine else ("human_residence" if premium else "human")
        if callee.answer == "fax":
            result = "fax_detected"
        detection = "call.machine.premium.detection.ended" if premium else "call.machine.detection.ended"
        await self._emit(call, detection, result=result)
        if machine and callee.beep and amd in ("detect_beep", "greeting_end", "premium"):
            await asyncio.sleep(callee.greeting_s)
            greeting = "call.machine.premium.greeting.ended" if premium else "call.machine.greeting.ended"
            await self._emit(call, greeting, result="beep_detected")
