"""``Patter``: the phone number your agent answers, and the server behind it.

::

    phone = Patter(carrier="twilio", phone_number="+15550001111", webhook_url="agent.example.com")
    agent = phone.agent(system_prompt="You are a friendly receptionist.", engine="openai-realtime")
    await phone.serve(agent, port=8000)

``webhook_url`` is the public host name the carrier reaches this server at (a scheme, if given, is
dropped). ``serve`` runs until :meth:`Patter.stop` is called or the task is cancelled, then ends active
calls cleanly. ``call`` places an outbound call through the same server.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from patter_core.addresses import is_e164, public_host
from patter_core.agent import Agent, OnMessage, build_agent
from patter_core.errors import ConfigurationError
from patter_core.interfaces.carrier import (
    CallOutcome,
    CallStatusEvent,
    Carrier,
    MediaChannel,
    OutboundCallRequest,
)
from patter_core.registry import Registry, default_registry
from patter_core.server.tokens import CallTokens, resolve_secret
from patter_core.session.call import CallSession, SessionOptions
from patter_core.session.record import CallRecord

__all__ = ["OutboundCall", "Patter"]

log = logging.getLogger("patter")

_TERMINAL = {
    CallOutcome.NO_ANSWER,
    CallOutcome.BUSY,
    CallOutcome.FAILED,
    CallOutcome.CANCELED,
    CallOutcome.COMPLETED,
}


def _normalise_webhook_url(value: str | None) -> str | None:
    return None if value is None else public_host(value, what="webhook_url")


@attrs.define
class OutboundCall:
    """A placed outbound call: its id, and awaitables for its outcome and its record."""

    call_id: str
    to: str
    _outcome: asyncio.Future[CallStatusEvent] = attrs.field(repr=False)
    _record: asyncio.Future[CallRecord] = attrs.field(repr=False)

    async def outcome(self, timeout: float | None = None) -> CallStatusEvent:
        """The status update that decided the attempt (answered, voicemail, no-answer, busy, failed)."""
        return await asyncio.wait_for(asyncio.shield(self._outcome), timeout)

    async def record(self, timeout: float | None = None) -> CallRecord:
        """The call record, once the conversation has ended."""
        return await asyncio.wait_for(asyncio.shield(self._record), timeout)


class Patter:
    def __init__(
        self,
        carrier: Carrier | str | None = None,
        phone_number: str | None = None,
        webhook_url: str | None = None,
        *,
        registry: Registry | None = None,
        secret: str | None = None,
        recordings_dir: str | None = None,
        records_dir: str | None = None,
    ) -> None:
        self.registry = registry or default_registry()
        if isinstance(carrier, str):
            carrier = self.registry.create("carrier", carrier)
        if carrier is not None and not isinstance(carrier, Carrier):
            raise ConfigurationError(
                f"carrier= must be a Carrier or a registered carrier name, got {type(carrier).__name__}"
            )
        if phone_number is not None and not is_e164(phone_number):
            raise ConfigurationError(f"phone_number must be E.164 like +15551234567, got {phone_number!r}")
        self.carrier = carrier
        self.phone_number = phone_number
        self.webhook_url = _normalise_webhook_url(webhook_url)
        secret_bytes, self.secret_shared = resolve_secret(secret)
        self.tokens = CallTokens(secret_bytes)
        self.recordings_dir = recordings_dir
        self.records_dir = records_dir or os.environ.get("PATTER_RECORDS_DIR") or None
        """Each call's record is appended here as JSON lines while the call runs (``<call id>.jsonl``)."""
        self._host: Any = None
        self._ready = asyncio.Event()
        self._stop: asyncio.Event | None = None
        self._records: dict[str, asyncio.Future[CallRecord]] = {}
        self._call_agents: dict[str, Agent] = {}
        self.port: int | None = None

    # -- agents --------------------------------------------------------------------------------

    def agent(self, **options: Any) -> Agent:
        """Build an :class:`Agent`; provider arguments accept instances or registered names."""
        return build_agent(self.registry, **options)

    # -- serving -------------------------------------------------------------------------------

    async def serve(
        self,
        agent: Agent,
        *,
        host: str = "0.0.0.0",
        port: int = 8000,
        tunnel: bool = False,
        on_message: OnMessage | None = None,
        on_call_start: Callable[[Any], Awaitable[None] | None] | None = None,
        on_call_end: Callable[[CallRecord], Awaitable[None] | None] | None = None,
        on_call_status: Callable[[CallStatusEvent], Awaitable[None] | None] | None = None,
        verify_webhooks: bool = True,
        session_options: SessionOptions | None = None,
        reuse_port: bool = False,
    ) -> None:
        """Answer calls with ``agent`` until :meth:`stop` (or cancellation); then end calls cleanly."""
        if not isinstance(agent, Agent):
            raise ConfigurationError("serve() needs an Agent: build one with phone.agent(...)")
        agent.check_complete(on_message=on_message)
        if self._host is not None:
            raise ConfigurationError("this Patter is already serving")
        if self.carrier is not None:
            self.carrier.check_ready(verify_webhooks=verify_webhooks)
            if self.webhook_url is None and not tunnel:
                raise ConfigurationError(
                    "webhook_url is not set: pass Patter(webhook_url='your-public-host') or serve(..., tunnel=True)"
                )
        if tunnel:
            from patter_core.tunnel import INSTALL_HINT, find_cloudflared

            if find_cloudflared() is None:
                raise ConfigurationError(INSTALL_HINT)
        from patter_core.server.host import ServerHost
        from patter_core.server.runner import bind_socket

        sock = bind_socket(host, port, reuse_port=reuse_port)
        self.port = sock.getsockname()[1]
        options = session_options or SessionOptions()

        def make_session(channel: MediaChannel) -> CallSession:
            call_agent = self._call_agents.pop(channel.call.call_id, agent)
            per_call = attrs.evolve(options)
            if self.records_dir and not per_call.records_dir:
                per_call.records_dir = self.records_dir
            if self.recordings_dir:
                os.makedirs(self.recordings_dir, exist_ok=True)
                per_call.recording_path = os.path.join(
                    self.recordings_dir, f"{_safe(channel.call.call_id)}.wav"
                )
            return CallSession(
                agent=call_agent,
                channel=channel,
                carrier=self.carrier,
                on_message=on_message,
                options=per_call,
            )

        async def call_ended(record: CallRecord) -> None:
            future = self._records.pop(record.call.call_id, None)
            if future is not None and not future.done():
                future.set_result(record)
            if on_call_end is not None:
                result = on_call_end(record)
                if inspect.isawaitable(result):
                    await result

        self._stop = asyncio.Event()
        self._host = ServerHost(
            carrier=self.carrier,
            webhook_url=self.webhook_url or f"127.0.0.1:{self.port}",
            tokens=self.tokens,
            session_factory=make_session,
            on_call_start=on_call_start,
            on_call_end=call_ended,
            on_status=on_call_status,
        )
        serve_task = asyncio.ensure_future(self._host.serve(sock, self._stop))
        try:
            async with contextlib.AsyncExitStack() as stack:
                if tunnel:
                    from patter_core.tunnel import open_tunnel

                    self.webhook_url = await stack.enter_async_context(open_tunnel(self.port))
                    self._host.set_webhook_url(self.webhook_url)
                self._ready.set()
                log.info("patter listening on port %s (public host %s)", self.port, self._host.webhook_url)
                await asyncio.shield(serve_task)
        except asyncio.CancelledError:
            await self._shutdown(serve_task)
            raise
        finally:
            if not serve_task.done():
                await self._shutdown(serve_task)
            elif self.carrier is not None:  # stopped cleanly: release the carrier's clients and tasks
                await self.carrier.aclose()
            self._ready.clear()
            self._host = None

    async def _shutdown(self, serve_task: asyncio.Future[None]) -> None:
        if self._host is not None:
            await self._host.drain(timeout=10.0)
        if self._stop is not None:
            self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(serve_task), 15)
        except (TimeoutError, asyncio.CancelledError):
            serve_task.cancel()
        if self.carrier is not None:
            await self.carrier.aclose()

    async def stop(self) -> None:
        """End active calls cleanly and stop serving."""
        if self._host is not None:
            await self._host.drain(timeout=10.0)
        if self._stop is not None:
            self._stop.set()

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until :meth:`serve` is accepting connections."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    @property
    def routes(self) -> list[tuple[str, str]]:
        """``(method, public URL)`` of every route the server mounted (for the carrier's console)."""
        if self._host is None:
            return []
        host = self._host.webhook_url
        return [
            (method, f"{'wss' if method == 'WS' else 'https'}://{host}{path}")
            for method, path in self._host.routes
        ]

    @property
    def active_calls(self) -> int:
        return len(self._host.active) if self._host is not None else 0

    # -- outbound ------------------------------------------------------------------------------

    async def call(
        self,
        to: str,
        agent: Agent | None = None,
        *,
        from_: str | None = None,
        machine_detection: bool = False,
        voicemail_message: str | None = None,
        ring_timeout_s: int = 30,
    ) -> OutboundCall:
        """Place an outbound call answered by ``agent`` (default: the agent being served).

        Needs :meth:`serve` running (the carrier connects the call's media back to this server).
        """
        if self.carrier is None:
            raise ConfigurationError("call() needs a carrier: Patter(carrier=...)")
        if not is_e164(to):
            raise ConfigurationError(f"to= must be an E.164 number like +15551234567, got {to!r}")
        caller_id = from_ or self.phone_number
        if caller_id is None:
            raise ConfigurationError("no caller ID: pass Patter(phone_number=...) or call(..., from_=...)")
        if self._host is None:
            raise ConfigurationError(
                "call() needs the server running: start `await phone.serve(agent)` in a task first"
            )
        request = OutboundCallRequest(
            to=to,
            from_=caller_id,
            machine_detection=machine_detection or voicemail_message is not None,
            voicemail_message=voicemail_message or (agent.voicemail_message if agent else None),
            ring_timeout_s=ring_timeout_s,
        )
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[CallStatusEvent] = loop.create_future()
        record: asyncio.Future[CallRecord] = loop.create_future()
        call_id = await self.carrier.place_call(request, self._host)
        if agent is not None:
            self._call_agents[call_id] = agent
        if request.voicemail_message:
            self._host.voicemail_messages[call_id] = request.voicemail_message
        self._records[call_id] = record

        def on_status(event: CallStatusEvent) -> None:
            if event.outcome is not None and not outcome.done():
                outcome.set_result(event)
            if event.outcome in _TERMINAL and not record.done() and call_id not in self._host.active:
                self._records.pop(call_id, None)
                record.cancel()
                unwatch()

        unwatch = self._host.watch_status(call_id, on_status)
        return OutboundCall(call_id=call_id, to=to, outcome=outcome, record=record)


def _safe(call_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", call_id)[:120]
