"""Warm transfer with Call Control primitives: brief a human, then connect the caller.

1. The caller (leg A) hears hold music if ``WarmTransfer.hold_music_url`` is set
   (``actions/playback_start`` with ``loop: "infinity"``); the agent's stream stays up, so if the
   transfer fails the conversation simply goes on.
2. Dial the human (leg B): ``POST /calls`` with our number as ``from`` and a ``client_state`` that marks
   the leg as a warm-transfer leg -- its webhooks are routed here and never start a media stream.
3. On B's ``call.answered``: ``actions/speak`` the summary to B; wait for B's ``call.speak.ended``.
4. Stop the hold music and ``actions/bridge`` A with B (``{"call_control_id": B}`` on A). The session
   then closes its stream; the two people stay connected.

Any failure -- B busy, unanswered, hanging up during the briefing, a timeout -- stops the hold music,
hangs B up if it is still there and raises :class:`~patter_core.errors.CarrierError`, so the agent is
told the transfer failed and stays on the line. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from patter_core.errors import CarrierError
from patter_core.interfaces.carrier import CallInfo, WarmTransfer
from patter_telnyx.rest import TelnyxAPI, TelnyxAPIError, encode_client_state

__all__ = ["WarmTransfers"]

log = logging.getLogger("patter.telnyx")


@attrs.define(eq=False)
class _Leg:
    warm_id: str
    answered: asyncio.Future[str]
    speak_done: asyncio.Event = attrs.field(factory=asyncio.Event)
    ended: asyncio.Event = attrs.field(factory=asyncio.Event)
    call_control_id: str | None = None
    hangup_cause: str = ""


class WarmTransfers:
    def __init__(
        self,
        api: TelnyxAPI,
        *,
        speak_body: Callable[[str], dict[str, Any]],
        ring_timeout_s: float = 30.0,
        speak_timeout: Callable[[str], float],
    ) -> None:
        self._api = api
        self._speak_body = speak_body
        self.ring_timeout_s = ring_timeout_s
        self._speak_timeout = speak_timeout
        self._legs: dict[str, _Leg] = {}

    def on_event(self, warm_id: str, event_type: str, payload: Mapping[str, Any], call_id: str) -> None:
        """A webhook for a warm-transfer leg (routed by its client_state)."""
        leg = self._legs.get(warm_id)
        if leg is None:
            log.debug("Telnyx %s for a finished warm transfer ignored", event_type)
            return
        leg.call_control_id = leg.call_control_id or call_id
        if event_type == "call.answered" and not leg.answered.done():
            leg.answered.set_result(call_id)
        elif event_type == "call.speak.ended":
            leg.speak_done.set()
        elif event_type == "call.hangup":
            leg.hangup_cause = str(payload.get("hangup_cause") or "hangup")
            leg.ended.set()
            leg.speak_done.set()
            if not leg.answered.done():
                leg.answered.set_exception(
                    CarrierError(f"the transfer target did not answer ({leg.hangup_cause})")
                )

    async def run(
        self, call: CallInfo, to: str, warm: WarmTransfer, *, connection_id: str, from_: str
    ) -> None:
        warm_id = uuid.uuid4().hex[:16]
        leg = _Leg(warm_id, answered=asyncio.get_running_loop().create_future())
        self._legs[warm_id] = leg
        holding = False
        try:
            if warm.hold_music_url:
                holding = await self._try(
                    call.call_id, "playback_start", {"audio_url": warm.hold_music_url, "loop": "infinity"}
                )
            dialed = await self._api.dial(
                {
                    "connection_id": connection_id,
                    "to": to,
                    "from": from_,
                    "timeout_secs": int(self.ring_timeout_s),
                    "client_state": encode_client_state({"p": "warm", "w": warm_id}),
                }
            )
            leg.call_control_id = leg.call_control_id or str(dialed.get("call_control_id") or "") or None
            try:
                human = await asyncio.wait_for(asyncio.shield(leg.answered), self.ring_timeout_s + 10)
            except TimeoutError:
                raise CarrierError(f"the transfer target {to} did not answer in time") from None
            await self._api.command(human, "speak", self._speak_body(warm.summary))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._speak_timeout(warm.summary)):
                    await leg.speak_done.wait()
            if leg.ended.is_set():
                raise CarrierError(f"the transfer target hung up during the briefing ({leg.hangup_cause})")
            if holding:
                await self._try(call.call_id, "playback_stop", {})
                holding = False
            await self._api.command(call.call_id, "bridge", {"call_control_id": human})
        except BaseException:
            await asyncio.shield(self._clean_up(call, leg, holding))
            raise
        finally:
            self._legs.pop(warm_id, None)
            if not leg.answered.done():
                leg.answered.cancel()
            elif not leg.answered.cancelled():
                leg.answered.exception()  # retrieved: no "never retrieved" warning

    async def _clean_up(self, call: CallInfo, leg: _Leg, holding: bool) -> None:
        if holding:
            await self._try(call.call_id, "playback_stop", {})
        if leg.call_control_id and not leg.ended.is_set():
            await self._try(leg.call_control_id, "hangup", {})

    async def _try(self, call_id: str, action: str, body: Mapping[str, Any]) -> bool:
        try:
            await self._api.command(call_id, action, body)
        except TelnyxAPIError as exc:
            if not exc.call_ended:
                log.warning("warm transfer: %s", exc)
            return False
        except CarrierError as exc:
            log.warning("warm transfer: %s", exc)
            return False
        return True
