"""The Twilio carrier: Programmable Voice webhooks + Media Streams + the REST API.

::

    from patter_twilio import Twilio

    phone = Patter(carrier=Twilio(), phone_number="+15550001111", webhook_url="agent.example.com")

Point the number's Voice webhook at ``https://{webhook_url}/webhooks/twilio/voice`` (POST) and, for
inbound status updates, its status callback at ``/webhooks/twilio/status``. Outbound calls set both
themselves. See the package README for every option.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Coroutine, Mapping
from typing import Any
from urllib.parse import urlencode

from patter_core.audio.format import MULAW_8K
from patter_core.errors import CarrierError, ConfigurationError, MissingCredentialError
from patter_core.interfaces.carrier import (
    CallHost,
    CallInfo,
    Carrier,
    CarrierCapabilities,
    OutboundCallRequest,
    WarmTransfer,
)
from patter_core.providers import resolve_base_url
from patter_twilio.media import STREAM_PATH, MediaRoute, StreamSignatureMode
from patter_twilio.numbers import configure_voice_url, describe_account
from patter_twilio.rest import Form, TwilioREST, is_already_ended
from patter_twilio.signature import SignatureValidator
from patter_twilio.status import TERMINAL_OUTCOMES
from patter_twilio.twiml import conference_twiml, dial_twiml, say_hangup_twiml
from patter_twilio.webhooks import AMD_PATH, STATUS_PATH, VOICE_PATH, TwilioWebhooks

__all__ = ["DEFAULT_BASE_URL", "STATUS_EVENTS", "Twilio"]

log = logging.getLogger("patter.twilio")

DEFAULT_BASE_URL = "https://api.twilio.com"
STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_FALLBACK = "Sorry, I couldn't connect you right now. Please call back later. Goodbye."


class Twilio(Carrier):
    """Twilio Programmable Voice with bidirectional Media Streams (mu-law 8 kHz).

    Credentials fall back to ``TWILIO_ACCOUNT_SID`` / ``TWILIO_AUTH_TOKEN``. ``base_url`` is the REST
    API root (``https://api.twilio.com``); point it at a proxy or at
    :class:`patter_twilio.testing.FakeTwilioAPI`. It falls back to ``$TWILIO_BASE_URL`` (Patter's own
    variable; Twilio's SDK has none) so that ``patter-core serve`` and ``doctor``, which build the carrier
    by name, can reach a fake too.
    """

    name = "twilio"
    capabilities = CarrierCapabilities(
        marks=True,
        dtmf_in=True,
        dtmf_out=False,
        outbound_calls=True,
        transfer=True,
        warm_transfer=True,
        recording=True,
        machine_detection=True,
    )
    wire_format = MULAW_8K

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        base_url: str | None = None,
        shared_keys: Mapping[str, str] | None = None,
        stream_signature: StreamSignatureMode = "check",
        async_amd: bool = True,
        machine_detection_timeout_s: int | None = None,
        say_voice: str | None = None,
        say_language: str | None = None,
        transfer_fallback_message: str = _FALLBACK,
        transfer_caller_id: str | None = None,
        warm_transfer_timeout_s: int = 30,
        recording_channels: str = "dual",
        start_timeout_s: float = 10.0,
        request_timeout_s: float = 15.0,
    ) -> None:
        sid = account_sid if account_sid is not None else os.environ.get("TWILIO_ACCOUNT_SID")
        token = auth_token if auth_token is not None else os.environ.get("TWILIO_AUTH_TOKEN")
        if not sid or not sid.strip():
            raise MissingCredentialError(
                "Twilio Account SID", argument="account_sid", env="TWILIO_ACCOUNT_SID"
            )
        if not token or not token.strip():
            raise MissingCredentialError("Twilio Auth Token", argument="auth_token", env="TWILIO_AUTH_TOKEN")
        sid, token = sid.strip(), token.strip()
        if not _ACCOUNT_SID.match(sid):
            raise ConfigurationError(
                "account_sid must be your Twilio Account SID: 'AC' followed by 32 hex characters "
                f"(Twilio Console > Account Info), got {sid[:6]!r}..."
            )
        if stream_signature not in ("check", "require", "ignore"):
            raise ConfigurationError("stream_signature must be 'check', 'require' or 'ignore'")
        if recording_channels not in ("mono", "dual"):
            raise ConfigurationError("recording_channels must be 'mono' or 'dual'")
        self.account_sid = sid
        self.base_url = resolve_base_url(base_url, default=DEFAULT_BASE_URL, env="TWILIO_BASE_URL")
        self.rest = TwilioREST(sid, token, self.base_url, timeout=request_timeout_s)
        self.validator = SignatureValidator(token, shared_keys)
        self.stream_signature: StreamSignatureMode = stream_signature
        self.async_amd = async_amd
        self.machine_detection_timeout_s = machine_detection_timeout_s
        self.say_voice, self.say_language = say_voice, say_language
        self.transfer_fallback_message = transfer_fallback_message
        self.transfer_caller_id = transfer_caller_id
        self.warm_transfer_timeout_s = warm_transfer_timeout_s
        self.recording_channels = recording_channels
        self.start_timeout_s = start_timeout_s
        self.verify_webhooks = True
        self.webhooks = TwilioWebhooks(self)
        self.media = MediaRoute(self)
        self._host: CallHost | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        return f"Twilio(account_sid={self.account_sid!r}, base_url={self.base_url!r})"

    # -- server ----------------------------------------------------------------------------------

    @property
    def host(self) -> CallHost:
        if self._host is None:
            raise ConfigurationError("the Twilio carrier is not mounted: serve it with Patter(...).serve()")
        return self._host

    def mount(self, host: CallHost) -> None:
        self._host = host
        host.add_route(VOICE_PATH, self.webhooks.voice, methods=("POST", "GET"))
        host.add_route(STATUS_PATH, self.webhooks.status)
        host.add_route(AMD_PATH, self.webhooks.amd)
        host.add_websocket(STREAM_PATH, self.media)

    def check_ready(self, *, verify_webhooks: bool = True) -> None:
        self.verify_webhooks = verify_webhooks
        if not verify_webhooks:
            log.warning(
                "Twilio webhook signatures are NOT verified (verify_webhooks=False): anyone who can "
                "reach this server can start calls. Use this only for local development."
            )

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> None:
        """Run background call control (fax hang-ups, transfer fallbacks); errors are logged."""

        async def guarded() -> None:
            try:
                await coro
            except CarrierError as exc:
                log.warning("%s failed: %s", name, exc)
            except Exception:
                log.exception("%s failed", name)

        task = asyncio.get_running_loop().create_task(guarded(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.rest.aclose()

    # -- number configuration and credentials (``serve --configure-number``, ``doctor``) -----------

    async def configure_number(self, phone_number: str, webhook_host: str) -> bool:
        """Point the number's VoiceUrl at ``https://{webhook_host}/webhooks/twilio/voice`` (POST).

        Reads the number first and writes only when it differs (``False`` then); refuses numbers that a
        TwiML App or SIP trunk routes. See :mod:`patter_twilio.numbers`.
        """
        return await configure_voice_url(self.rest, phone_number, webhook_host)

    async def check_credentials(self) -> str:
        """Fetch the Account resource: "account AC1234...cdef, 'name' (active, Full)"."""
        return await describe_account(self.rest)

    # -- outbound --------------------------------------------------------------------------------

    def outbound_form(self, request: OutboundCallRequest, host: CallHost) -> list[tuple[str, str]]:
        """The ``Calls.json`` form for ``request`` (PROTOCOLS §1.6)."""
        voice_url = host.public_url(VOICE_PATH)
        if request.parameters:
            voice_url += "?" + urlencode(sorted(request.parameters.items()))
        status_url = host.public_url(STATUS_PATH) + ("?amd=1" if request.machine_detection else "")
        form: list[tuple[str, str]] = [
            ("To", request.to),
            ("From", request.from_),
            ("Url", voice_url),
            ("Method", "POST"),
            ("StatusCallback", status_url),
            ("StatusCallbackMethod", "POST"),
            *(("StatusCallbackEvent", event) for event in STATUS_EVENTS),
            ("Timeout", str(request.ring_timeout_s)),
        ]
        if request.time_limit_s:
            form.append(("TimeLimit", str(request.time_limit_s)))
        if request.machine_detection:
            form.append(("MachineDetection", "DetectMessageEnd" if request.voicemail_message else "Enable"))
            if self.machine_detection_timeout_s:
                form.append(("MachineDetectionTimeout", str(self.machine_detection_timeout_s)))
            if self.async_amd:
                form += [
                    ("AsyncAmd", "true"),
                    ("AsyncAmdStatusCallback", host.public_url(AMD_PATH)),
                    ("AsyncAmdStatusCallbackMethod", "POST"),
                ]
        return form

    async def place_call(self, request: OutboundCallRequest, host: CallHost) -> str:
        call = await self.rest.create_call(self.outbound_form(request, host))
        sid = call.get("sid")
        if not isinstance(sid, str) or not sid:
            raise CarrierError("Twilio created the call but returned no sid")
        log.info("placed outbound call %s (status %s)", sid, call.get("status"))
        return sid

    # -- call control ----------------------------------------------------------------------------

    async def _update(self, call_sid: str, form: Form, *, ended_ok: bool) -> bool:
        """Update a live call; ``False`` when it had already ended (and ``ended_ok``)."""
        try:
            await self.rest.update_call(call_sid, form)
        except CarrierError as exc:
            if ended_ok and is_already_ended(exc):
                log.info("call %s had already ended (Twilio %s)", call_sid, exc.code or exc.status)
                return False
            raise
        return True

    async def hangup_sid(self, call_sid: str, *, message: str | None = None) -> None:
        if message:
            twiml = say_hangup_twiml(message, voice=self.say_voice, language=self.say_language)
            await self._update(call_sid, [("Twiml", twiml)], ended_ok=True)
        else:
            await self._update(call_sid, [("Status", "completed")], ended_ok=True)

    async def hangup(self, call: CallInfo, *, message: str | None = None) -> None:
        """``Status=completed`` (or ``<Say>message</Say><Hangup/>``); an ended call is success."""
        await self.hangup_sid(call.call_id, message=message)

    async def transfer(self, call: CallInfo, to: str, *, warm: WarmTransfer | None = None) -> None:
        if warm is None:
            await self._update(call.call_id, [("Twiml", dial_twiml(to))], ended_ok=False)
            log.info("call %s transferred to %s", call.call_id, to)
            return
        await self._warm_transfer(call, to, warm)

    async def _warm_transfer(self, call: CallInfo, to: str, warm: WarmTransfer) -> None:
        """PROTOCOLS §1.7: caller to a conference on hold, brief the human, join them; fall back."""
        our_number = self.transfer_caller_id or (call.caller if call.direction == "outbound" else call.callee)
        if not our_number:
            raise CarrierError("warm transfer needs a caller ID: pass Twilio(transfer_caller_id='+1...')")
        room = f"patter-{call.call_id}"
        hold = conference_twiml(room, start_on_enter=False, end_on_exit=True, wait_url=warm.hold_music_url)
        await self._update(call.call_id, [("Twiml", hold)], ended_ok=False)
        brief = conference_twiml(
            room,
            start_on_enter=True,
            end_on_exit=True,
            say=warm.summary,
            voice=self.say_voice,
            language=self.say_language,
        )
        form: list[tuple[str, str]] = [("To", to), ("From", our_number), ("Twiml", brief)]
        if self._host is not None:
            status = self.host.public_url(STATUS_PATH) + "?" + urlencode({"warm_for": call.call_id})
            form += [("StatusCallback", status), ("StatusCallbackMethod", "POST")]
        form.append(("Timeout", str(self.warm_transfer_timeout_s)))
        try:
            leg = await self.rest.create_call(form)
        except CarrierError as exc:
            log.warning("call %s: warm transfer to %s failed (%s); ending the call", call.call_id, to, exc)
            await self._fallback(call.call_id)
            raise CarrierError(f"warm transfer failed: {exc}", status=exc.status, code=exc.code) from exc
        log.info("call %s: warm transfer to %s via %s (leg %s)", call.call_id, to, room, leg.get("sid"))

    async def _fallback(self, caller_sid: str) -> None:
        twiml = say_hangup_twiml(
            self.transfer_fallback_message, voice=self.say_voice, language=self.say_language
        )
        await self._update(caller_sid, [("Twiml", twiml)], ended_ok=True)

    def warm_leg_status(self, caller_sid: str, leg_sid: str, status: str) -> None:
        """A status of the human's leg of a warm transfer: if it never connected, end the caller's wait."""
        if status in TERMINAL_OUTCOMES and status != "completed":
            log.warning(
                "warm transfer leg %s for %s ended %s; ending the caller's wait", leg_sid, caller_sid, status
            )
            self.spawn(self._fallback(caller_sid), name=f"warm-fallback-{caller_sid}")

    async def send_dtmf(self, call: CallInfo, digits: str) -> bool:
        """Media streams cannot send DTMF: the core plays in-band tones instead."""
        return False

    async def start_recording(self, call: CallInfo) -> str | None:
        """Start Twilio's recording of the call (``RecordingChannels=dual``); returns the ``RE`` sid."""
        recording = await self.rest.create_recording(
            call.call_id, [("RecordingChannels", self.recording_channels)]
        )
        sid = recording.get("sid")
        return sid if isinstance(sid, str) else None
