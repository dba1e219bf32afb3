"""``Telnyx``: the carrier provider (Call Control v2 + bidirectional RTP media streaming).

::

    from patter_telnyx import Telnyx

    phone = Patter(carrier=Telnyx(), phone_number="+15551230000", webhook_url="agent.example.com")

Configure the Call Control Application's webhook URL as ``https://{webhook_url}/webhooks/telnyx/voice``.
Inbound: ``call.initiated`` -> ``answer``; ``call.answered`` -> ``streaming_start`` (bidirectional RTP,
L16 16 kHz by default) to ``wss://{webhook_url}/ws/telnyx/stream/{call id}`` with a per-call
``stream_auth_token``. ``answer`` does not take ``stream_auth_token`` or the sampling rate in the official
SDK (PROTOCOLS.md §2.4 disagreement), hence the two steps. Outbound: ``POST /calls`` without stream
parameters, and the same ``streaming_start`` on ``call.answered``: the per-call token needs the
``call_control_id`` that only the dial response gives, and not streaming before the answer keeps
ring-back and machine-detection audio away from the agent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Coroutine
from typing import Any

import httpx

from patter_core.errors import CarrierError, ConfigurationError
from patter_core.interfaces.carrier import (
    CallHost,
    CallInfo,
    Carrier,
    CarrierCapabilities,
    OutboundCallRequest,
    WarmTransfer,
)
from patter_core.providers import require_api_key, resolve_base_url
from patter_core.server.http import HttpRequest, HttpResponse, WebSocketConnection
from patter_telnyx.calls import CallTable
from patter_telnyx.codec import stream_codec
from patter_telnyx.events import EventHandler
from patter_telnyx.media import serve_stream
from patter_telnyx.numbers import configure_application, describe_credentials
from patter_telnyx.paths import STREAM_PATH, WEBHOOK_PATH
from patter_telnyx.rest import TelnyxAPI, TelnyxAPIError, encode_client_state, new_command_id
from patter_telnyx.warm import WarmTransfers
from patter_telnyx.webhook import WebhookEndpoint

__all__ = ["DEFAULT_BASE_URL", "Telnyx"]

log = logging.getLogger("patter.telnyx")

DEFAULT_BASE_URL = "https://api.telnyx.com/v2"
_DTMF = re.compile(r"^[0-9A-Da-d*#wW]{1,64}$")


def _speak_timeout(text: str) -> float:
    """How long speaking ``text`` may take before we stop waiting (about 130 words a minute + margin)."""
    return min(90.0, 3.0 + 0.45 * len(text.split()))


class Telnyx(Carrier):
    """The Telnyx carrier. Keyword-only; every credential falls back to its environment variable."""

    name = "telnyx"
    capabilities = CarrierCapabilities(
        marks=True,
        dtmf_in=True,
        dtmf_out=True,
        outbound_calls=True,
        transfer=True,
        warm_transfer=True,
        recording=True,
        machine_detection=True,
    )

    def __init__(
        self,
        *,
        api_key: str | None = None,
        connection_id: str | None = None,
        public_key: str | None = None,
        base_url: str | None = None,
        codec: str = "L16",
        machine_detection: str | None = None,
        speak_voice: str = "female",
        speak_language: str = "en-US",
        greeting_timeout_s: float = 20.0,
        webhook_tolerance_s: float = 300.0,
        stream_start_timeout_s: float = 10.0,
        reorder_window: int = 3,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        """
        Args:
            api_key: Telnyx API key (``TELNYX_API_KEY``).
            connection_id: The Call Control Application id, needed to dial out (``TELNYX_CONNECTION_ID``).
            public_key: The account's webhook public key, base64 (``TELNYX_PUBLIC_KEY``); required to
                serve unless ``serve(verify_webhooks=False)``.
            base_url: The API root (default ``https://api.telnyx.com/v2``, else ``$TELNYX_BASE_URL``, the
                official SDK's variable); point it at a fake in tests -- the variable reaches carriers
                that ``patter-core serve`` / ``doctor`` build by name.
            codec: ``"L16"`` (16 kHz linear PCM, the default: passthrough to 16 kHz providers) or
                ``"PCMU"`` (mu-law 8 kHz).
            machine_detection: The ``answering_machine_detection`` mode for ``phone.call(...,
                machine_detection=True)``; default ``detect_beep`` when a voicemail message is set
                (the message is left after the beep), else ``detect``.
            speak_voice, speak_language: Telnyx text-to-speech used by ``hangup(message=...)`` and
                warm-transfer briefings (``actions/speak``).
            greeting_timeout_s: After a machine is detected, how long to wait for the end of its
                greeting before leaving the voicemail anyway.
        """
        api_key = require_api_key(api_key, env="TELNYX_API_KEY", provider="Telnyx")
        self.base_url = resolve_base_url(base_url, default=DEFAULT_BASE_URL, env="TELNYX_BASE_URL")
        self.connection_id = connection_id or os.environ.get("TELNYX_CONNECTION_ID") or None
        self.codec = stream_codec(codec)
        self.wire_format = self.codec.format
        self.machine_detection = machine_detection
        self.speak_voice, self.speak_language = speak_voice, speak_language
        self.greeting_timeout_s = greeting_timeout_s
        self.stream_start_timeout_s = stream_start_timeout_s
        self.reorder_window = reorder_window
        self.api = TelnyxAPI(api_key=api_key, base_url=self.base_url, client=http_client)
        key = public_key if public_key is not None else os.environ.get("TELNYX_PUBLIC_KEY")
        self.webhooks = WebhookEndpoint(key or None, tolerance_s=webhook_tolerance_s)
        self.calls = CallTable()
        self.events = EventHandler(self)
        self.warm = WarmTransfers(self.api, speak_body=self._speak_body, speak_timeout=_speak_timeout)
        self.host: CallHost | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._after_speech: dict[asyncio.Task[Any], str] = {}

    def __repr__(self) -> str:
        return f"Telnyx(base_url={self.base_url!r}, codec={self.codec.name!r})"

    # -- server --------------------------------------------------------------------------------

    def mount(self, host: CallHost) -> None:
        self.host = host
        host.add_route(WEBHOOK_PATH, self._webhook)
        host.add_websocket(STREAM_PATH, self._stream)

    def check_ready(self, *, verify_webhooks: bool = True) -> None:
        self.webhooks.configure(verify=verify_webhooks)

    @property
    def accepting_calls(self) -> bool:
        return self.host is None or self.host.accepting_calls

    async def _webhook(self, request: HttpRequest) -> HttpResponse:
        event = self.webhooks.accept(request)
        if isinstance(event, HttpResponse):
            return event
        event_type, payload, event_id = event
        self.spawn(self.events.handle(event_type, payload, event_id))
        return HttpResponse.text("", status=200)

    async def _stream(self, ws: WebSocketConnection) -> None:
        if self.host is None:
            await ws.close(1011, "not mounted")
            return
        await serve_stream(
            ws,
            host=self.host,
            codec=self.codec,
            on_live=self.events.stream_live,
            start_timeout=self.stream_start_timeout_s,
            reorder_window=self.reorder_window,
        )

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run background work owned by the carrier (cancelled by :meth:`aclose`)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._after_speech.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("Telnyx background task failed", exc_info=task.exception())

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every webhook received so far has been fully handled (for tests and shutdown)."""
        async with asyncio.timeout(timeout):
            while self._tasks - set(self._after_speech):
                await asyncio.wait(self._tasks - set(self._after_speech))

    # -- call control --------------------------------------------------------------------------

    def _require_connection_id(self) -> str:
        if not self.connection_id:
            raise ConfigurationError(
                "TELNYX_CONNECTION_ID is not set: pass Telnyx(connection_id=...) (the id of your Call "
                "Control Application) or set the TELNYX_CONNECTION_ID environment variable"
            )
        return self.connection_id

    async def configure_number(self, phone_number: str, webhook_host: str) -> bool:
        """Point the Call Control Application's webhook at ``https://{webhook_host}/webhooks/telnyx/voice``.

        Needs ``connection_id`` and the number on that application (never reassigned); reads first and
        writes only a difference (``False`` otherwise). See :mod:`patter_telnyx.numbers`.
        """
        connection_id = self._require_connection_id()
        return await configure_application(self.api, connection_id, phone_number, webhook_host)

    async def check_credentials(self) -> str:
        """Read the Call Control Application (or, without ``connection_id``, the balance)."""
        return await describe_credentials(self.api, self.connection_id)

    async def place_call(self, request: OutboundCallRequest, host: CallHost) -> str:
        connection_id = self._require_connection_id()
        self.host = self.host or host
        amd = None
        if request.machine_detection:
            amd = self.machine_detection or ("detect_beep" if request.voicemail_message else "detect")
        values = {"d": "out", **({"amd": amd} if amd else {})}
        body: dict[str, Any] = {
            "connection_id": connection_id,
            "to": request.to,
            "from": request.from_,
            "timeout_secs": max(5, min(600, int(request.ring_timeout_s))),
            "client_state": encode_client_state(values),
        }
        if amd:
            body["answering_machine_detection"] = amd
        if request.time_limit_s:
            body["time_limit_secs"] = max(30, min(14400, int(request.time_limit_s)))
        data = await self.api.dial(body)
        call_id = data.get("call_control_id")
        if not isinstance(call_id, str) or not call_id:
            raise CarrierError("Telnyx dial answered without a call_control_id")
        state = self.calls.get_or_create(call_id)
        state.direction, state.amd = "outbound", amd
        state.caller, state.callee = request.from_, request.to
        state.parameters = dict(request.parameters)
        return call_id

    async def hangup(self, call: CallInfo, *, message: str | None = None) -> None:
        state = self.calls.get_or_create(call.call_id)
        state.released = True
        if state.ended:
            return
        if message:
            state.speak_done = asyncio.Event()
            try:
                await self.api.command(call.call_id, "speak", self._speak_body(message))
            except TelnyxAPIError as exc:
                if exc.call_ended:
                    return
                log.warning("call %s: could not speak before hanging up: %s", call.call_id, exc)
            except CarrierError as exc:
                log.warning("call %s: could not speak before hanging up: %s", call.call_id, exc)
            else:
                done, bound = state.speak_done, _speak_timeout(message)
                task = self.spawn(self._hangup_after(call.call_id, done, bound))
                self._after_speech[task] = call.call_id
                return
        await self._hangup_now(call.call_id)

    async def _hangup_after(self, call_id: str, spoken: asyncio.Event, bound: float) -> None:
        try:
            await asyncio.wait_for(spoken.wait(), bound)
        except TimeoutError:
            log.info("call %s: call.speak.ended not seen within %.0f s; hanging up", call_id, bound)
        await self._hangup_now(call_id)

    async def _hangup_now(self, call_id: str) -> None:
        state = self.calls.get(call_id)
        if state is not None and state.ended:
            return
        try:
            await self.api.command(call_id, "hangup", {})
        except TelnyxAPIError as exc:
            if not exc.call_ended:  # 90018: the call already ended -- that is what we wanted
                raise
            self.calls.mark_ended(self.calls.get_or_create(call_id))

    async def transfer(self, call: CallInfo, to: str, *, warm: WarmTransfer | None = None) -> None:
        if warm is None:
            await self.api.command(call.call_id, "transfer", {"to": to})
        else:
            our_number = call.callee if call.direction == "inbound" else call.caller
            if not our_number:
                raise CarrierError("warm transfer needs our phone number as caller ID; the call has none")
            await self.warm.run(call, to, warm, connection_id=self._require_connection_id(), from_=our_number)
        self.calls.get_or_create(call.call_id).released = True

    async def send_dtmf(self, call: CallInfo, digits: str) -> bool:
        if not _DTMF.match(digits):
            raise CarrierError(f"invalid DTMF digits {digits[:20]!r}: use 0-9, A-D, *, # and w/W pauses")
        await self.api.command(call.call_id, "send_dtmf", {"digits": digits, "duration_millis": 250})
        return True

    async def start_recording(self, call: CallInfo) -> str | None:
        """Record both channels as WAV (``record_start``). Returns Telnyx's recording id when the response
        has one, else the command id; the files arrive in ``call.recording.saved`` (reported as a status)."""
        command_id = new_command_id()
        data = await self.api.command(
            call.call_id, "record_start", {"format": "wav", "channels": "dual", "command_id": command_id}
        )
        return str(data.get("recording_id") or command_id)

    async def stop_recording(self, call: CallInfo) -> None:
        await self.api.command(call.call_id, "record_stop", {})

    def _speak_body(self, text: str) -> dict[str, Any]:
        return {"payload": text, "voice": self.speak_voice, "language": self.speak_language}

    async def aclose(self) -> None:
        """Cancel background work; calls waiting to hang up after a spoken message hang up now."""
        pending = [cid for task, cid in self._after_speech.items() if not task.done()]
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for call_id in pending:
            try:
                await asyncio.wait_for(self._hangup_now(call_id), 5)
            except (CarrierError, TimeoutError) as exc:
                log.warning("call %s: hang-up on shutdown failed: %s", call_id, exc)
        await self.api.aclose()
