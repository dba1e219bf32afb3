"""A fake Twilio: the REST API on a loopback port, plus the calls it "places" (PROTOCOLS §1.10, §8.3).

REST (``base_url = api.base_url``), HTTP Basic auth checked (401 ``20003`` otherwise):

* ``POST /2010-04-01/Accounts/{sid}/Calls.json`` -> 201 call resource (``CA...``, ``queued``); then, like
  Twilio, it runs the call in the background according to its :class:`CallScript`: status callbacks
  (``initiated``, ``ringing``, ``in-progress`` or ``busy``/``no-answer``/``failed``/``canceled``, later
  ``completed``) POSTed to ``StatusCallback`` and signed like Twilio's; machine detection (synchronous:
  ``AnsweredBy`` on the voice webhook and the answered callback; ``AsyncAmd=true``: a POST to
  ``AsyncAmdStatusCallback``); for answered calls with ``Url`` it fetches the voice webhook and connects
  a :class:`TwilioCallerSimulator` (``api.calls[sid].simulator``);
* ``POST .../Calls/{sid}.json`` -> ``Status=completed|canceled`` / ``Twiml`` / ``Url``: recorded; a live
  media stream gets ``stop`` and is closed; unknown or ended calls get 404 ``20404`` (or the
  ``ended_call_error`` you choose, e.g. ``(400, 21220)``);
* ``GET .../Calls/{sid}.json`` -> the call resource;
* ``POST .../Calls/{sid}/Recordings.json`` -> 201 ``RE...`` recording;
* ``GET /2010-04-01/Accounts/{sid}.json`` (the Account) and ``IncomingPhoneNumbers`` list/fetch/update
  (:mod:`patter_twilio.testing.numbers`): seed numbers with ``api.add_number("+1...", voice_url=...)``;
  the Account's ``friendly_name``/``status``/``type`` are ``api.account_name``/``account_status``/
  ``account_type``.

Everything is observable: ``api.requests`` (every REST request: method, path, form, auth ok),
``api.calls`` (status history, updates, recordings, simulator), ``api.callbacks`` (every webhook the
fake delivered and the status it got). Fault injection: ``api.fail_next(kind, status, code)``,
``api.reject_to`` (numbers answered with 400 ``21211``), per-number :class:`CallScript`s.

Inbound calls that the REST API can then control: ``api.inbound_call(...)`` returns a simulator bound
to a call the fake knows.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
from collections.abc import Callable
from typing import Any

import httpx

from patter_core.server.runner import bind_socket, run_hypercorn
from patter_core.testing.waiting import wait_until
from patter_twilio.signature import compute_signature
from patter_twilio.testing.numbers import FakeNumber
from patter_twilio.testing.records import (
    TERMINAL,
    CallScript,
    FakeCall,
    RecordedCallback,
    RecordedRequest,
    request_kind,
)
from patter_twilio.testing.rest_app import build_app
from patter_twilio.testing.simulator import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    PublicAddress,
    TwilioCallerSimulator,
    new_sid,
    parse_stream_twiml,
)

__all__ = ["CallScript", "FakeCall", "FakeNumber", "FakeTwilioAPI", "RecordedCallback", "RecordedRequest"]

log = logging.getLogger("patter.twilio.fake")


class FakeTwilioAPI:
    def __init__(
        self,
        *,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        webhook_url: str = "agent.test",
        server: str | None = None,
        ended_call_error: tuple[int, int] = (404, 20404),
        default_script: CallScript | None = None,
        account_name: str = "Patter test account",
        account_status: str = "active",
        account_type: str = "Full",
    ) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.account_name, self.account_status, self.account_type = account_name, account_status, account_type
        self.numbers: dict[str, FakeNumber] = {}
        self.webhook_url = webhook_url
        self.server = server
        self.ended_call_error = ended_call_error
        self.default_script = default_script or CallScript()
        self.scripts: dict[str, CallScript] = {}
        self.reject_to: set[str] = set()
        self.requests: list[RecordedRequest] = []
        self.calls: dict[str, FakeCall] = {}
        self.callbacks: list[RecordedCallback] = []
        self.port: int | None = None
        self._failures: dict[str, list[tuple[int, int, str]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop: asyncio.Event | None = None
        self._serve: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.app = build_app(self)

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("start() the fake first")
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeTwilioAPI:
        sock = bind_socket("127.0.0.1", 0)
        self.port = sock.getsockname()[1]
        self._stop = asyncio.Event()
        self._serve = asyncio.get_running_loop().create_task(
            run_hypercorn(self.app, sock, shutdown=self._stop, graceful_timeout=1)
        )
        return self

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for call in self.calls.values():
            if call.simulator is not None:
                with contextlib.suppress(Exception):
                    await call.simulator.close()
        if self._stop is not None:
            self._stop.set()
        if self._serve is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._serve, 5)

    async def __aenter__(self) -> FakeTwilioAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def attach(self, server: str) -> None:
        """The local base URL of the Patter server (where callbacks and streams really go)."""
        self.server = server.rstrip("/")

    # -- knobs -----------------------------------------------------------------------------------

    def add_number(self, phone_number: str, **fields: Any) -> FakeNumber:
        """Give the account a number (E.164); ``fields`` as in :class:`FakeNumber` (``voice_url=``,
        ``voice_method=``, ``voice_application_sid=``, ``trunk_sid=``, ``status_callback=`` ...)."""
        number = FakeNumber(phone_number=phone_number, **fields)
        self.numbers[number.sid] = number
        return number

    def number(self, phone_number: str) -> FakeNumber:
        """The seeded number with this E.164 value."""
        return next(n for n in self.numbers.values() if n.phone_number == phone_number)

    def script(self, to: str, script: CallScript) -> None:
        self.scripts[to] = script

    def fail_next(
        self, kind: str, status: int = 500, code: int = 20500, message: str = "Internal Server Error"
    ) -> None:
        """Fail the next ``kind`` request (``create``, ``update``, ``recording``, ``fetch``, ``account``,
        ``numbers``, ``number``, ``number-update``) with a Twilio error."""
        self._failures.setdefault(kind, []).append((status, code, message))

    def requests_of(self, kind: str) -> list[RecordedRequest]:
        """REST requests by kind: ``create``, ``update``, ``recording``, ``fetch``, ``account``, ``numbers``,
        ``number``, ``number-update``."""
        return [r for r in self.requests if request_kind(r.method, r.path) == kind]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        await wait_until(predicate, timeout=timeout, changed=self._changed)

    def inbound_call(
        self,
        *,
        from_: str = "+15550001111",
        to: str = "+15550002222",
        status_callback: str | None = None,
        direction: str = "inbound",
        **kwargs: Any,
    ) -> TwilioCallerSimulator:
        """A call to your number: a simulator bound to a call this fake can update and hang up.

        ``status_callback`` (a public URL) receives the call's status updates, as configured on a
        number; other keyword arguments go to :class:`TwilioCallerSimulator`.
        """
        sid = new_sid("CA")
        call = FakeCall(sid=sid, to=to, from_=from_, direction=direction, status="ringing")
        if status_callback:
            call.params["StatusCallback"] = [status_callback]
        self.calls[sid] = call
        simulator = self._simulator(call, direction=direction, **kwargs)
        call.simulator = simulator
        return simulator

    # -- callbacks to the server -----------------------------------------------------------------

    def _address(self) -> PublicAddress:
        if self.server is None:
            raise RuntimeError("attach(server) first: the fake needs the Patter server's local address")
        return PublicAddress(self.webhook_url, self.server)

    def _simulator(self, call: FakeCall, *, direction: str, **kwargs: Any) -> TwilioCallerSimulator:
        def connected(sim: TwilioCallerSimulator) -> None:
            call.status = "in-progress"
            call.answered_at = asyncio.get_running_loop().time()
            call.connected.set()
            self.spawn(self._watch_stream(call, sim))
            self._changed.set()

        return TwilioCallerSimulator(
            server=self._address().local_base,
            webhook_url=self.webhook_url,
            auth_token=self.auth_token,
            account_sid=self.account_sid,
            call_sid=call.sid,
            from_=call.from_,
            to=call.to,
            direction=direction,
            on_connected=connected,
            **kwargs,
        )

    async def post_callback(self, url: str, form: dict[str, str]) -> int | None:
        """POST a webhook to the server as Twilio does: signed over the public ``url``."""
        headers = {"X-Twilio-Signature": compute_signature(url, form, self.auth_token)}
        status: int | None = None
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.post(self._address().to_local(url), data=form, headers=headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            log.warning("callback to %s failed: %s", url, exc)
        self.callbacks.append(RecordedCallback(url=url, form=dict(form), status=status))
        self._changed.set()
        return status

    def _base_fields(self, call: FakeCall) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": call.sid,
            "Called": call.to,
            "Caller": call.from_,
            "Direction": call.direction,
            "From": call.from_,
            "To": call.to,
        }

    async def _set_status(self, call: FakeCall, status: str, **extra: str) -> None:
        call.status = status
        call.statuses.append(status)
        if status in TERMINAL:
            call.ended.set()
        self._changed.set()
        url = call.param("StatusCallback")
        events = set(call.params.get("StatusCallbackEvent", [])) or {"completed"}
        event = {"initiated": "initiated", "ringing": "ringing", "in-progress": "answered"}.get(
            status, "completed"
        )
        if url is None or event not in events:
            return
        form = self._base_fields(call)
        form.update(
            CallStatus=status,
            CallbackSource="call-progress-events",
            SequenceNumber=str(call.sequence),
            Timestamp=email.utils.formatdate(usegmt=True),
            **extra,
        )
        call.sequence += 1
        if status in TERMINAL and call.answered_at is not None:
            form["CallDuration"] = str(int(asyncio.get_running_loop().time() - call.answered_at))
        await self.post_callback(url, form)

    async def _watch_stream(self, call: FakeCall, sim: TwilioCallerSimulator) -> None:
        """When the media stream closes without a TwiML update, the call is over (no next verb)."""
        await sim.live.closed.wait()
        if call.status not in TERMINAL and not call.transferred and not call.ending:
            await self._set_status(call, "completed")

    # -- outbound call lifecycle -------------------------------------------------------------------

    async def run_outbound(self, call: FakeCall) -> None:
        script = self.scripts.get(call.to, self.default_script)
        await self._set_status(call, "initiated")
        await asyncio.sleep(script.ring_s)
        if call.status in TERMINAL:
            return
        await self._set_status(call, "ringing")
        await asyncio.sleep(script.ring_s)
        if call.status in TERMINAL:
            return
        if script.result != "answered":
            await self._set_status(call, script.result)
            return
        detection = call.param("MachineDetection")
        async_amd = detection is not None and call.param("AsyncAmd") == "true"
        amd: dict[str, str] = {}
        if detection is not None and not async_amd:
            amd = {"AnsweredBy": script.answered_by, "MachineDetectionDuration": "2100"}
        call.answered_at = asyncio.get_running_loop().time()
        await self._set_status(call, "in-progress", **amd)
        url = call.param("Url")
        if url is not None and script.connect_media:
            self.spawn(self._connect_media(call, url, amd, script))
        if async_amd:
            await asyncio.sleep(script.amd_delay_s)
            target = call.param("AsyncAmdStatusCallback")
            if target and call.status not in TERMINAL:
                form = {
                    "AccountSid": self.account_sid,
                    "CallSid": call.sid,
                    "AnsweredBy": script.answered_by,
                    "MachineDetectionDuration": "2100",
                }
                await self.post_callback(target, form)

    async def _connect_media(self, call: FakeCall, url: str, amd: dict[str, str], script: CallScript) -> None:
        sim = self._simulator(
            call, direction="outbound-api", voice_url=url, extra_fields=amd, realtime=script.realtime
        )
        call.simulator = sim
        response = await sim.post_voice()
        call.voice_responses.append(response.status_code)
        self._changed.set()
        stream = parse_stream_twiml(response.text) if response.status_code == 200 else None
        if stream is None:  # an application error or TwiML without a stream: the call ends
            await self._set_status(call, "completed")
            return
        sim.twiml, sim.stream = response.text, stream
        await sim.open_stream(stream)

    # -- the REST app ----------------------------------------------------------------------------

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def end_stream(self, call: FakeCall, *, then: str | None) -> None:
        """Twilio replaced the call's TwiML: the running ``<Connect><Stream>`` gets ``stop`` and closes."""
        sim = call.simulator
        call.ending = then is not None  # the stream watcher must not report the end a second time
        if sim is not None and sim.caller is not None and not sim.caller.closed.is_set():
            with contextlib.suppress(Exception):
                await sim.hang_up()
        if then is not None and call.status not in TERMINAL:
            await self._set_status(call, then)
