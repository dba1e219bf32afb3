"""The server a carrier mounts on: routes, per-call credentials, and running calls.

:class:`ServerHost` implements :class:`~patter_core.interfaces.CallHost`. It keeps the calls that are
live in this process (one media socket per call: a second stream for a live call is refused), turns
each authenticated media channel into a :class:`~patter_core.session.call.CallSession`, and delivers
status updates and finished call records to the developer's callbacks.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from patter_core.interfaces.carrier import (
    CallHost,
    CallOutcome,
    CallStatusEvent,
    Carrier,
    HttpHandler,
    MediaChannel,
    WebSocketHandler,
)
from patter_core.server.app import add_http_route, create_http_app
from patter_core.server.asgi import PatterASGI
from patter_core.server.runner import bind_socket, run_hypercorn
from patter_core.server.tokens import CallTokens
from patter_core.session.call import SHUTDOWN_MESSAGE, CallSession

__all__ = ["ServerHost"]

log = logging.getLogger("patter.server")

SessionFactory = Callable[[MediaChannel], CallSession]
CALL_START_TIMEOUT_S = 10.0
"""``on_call_start`` runs before the call's media is read: it must not hold the caller in silence."""
Callback = Callable[[Any], Awaitable[None] | None]
UNWATCHED_STATUS_CALLS = 256
"""Status events of this many calls nobody watches yet are kept (oldest call dropped first): an outbound
call's first callback can arrive while ``place_call`` is still awaiting the carrier's API response."""
UNWATCHED_STATUS_PER_CALL = 8


class ServerHost(CallHost):
    def __init__(
        self,
        *,
        carrier: Carrier | None,
        webhook_url: str,
        tokens: CallTokens,
        session_factory: SessionFactory,
        on_call_start: Callback | None = None,
        on_call_end: Callback | None = None,
        on_status: Callback | None = None,
    ) -> None:
        self._webhook_url = webhook_url
        self.carrier = carrier
        self.tokens = tokens
        self._session_factory = session_factory
        self._on_call_start = on_call_start
        self._on_call_end = on_call_end
        self._on_status = on_status
        self.active: dict[str, CallSession] = {}
        self.finished = 0
        self.started_at = time.time()
        self._status_waiters: dict[str, list[Callable[[CallStatusEvent], None]]] = {}
        self._unwatched_status: OrderedDict[str, list[CallStatusEvent]] = OrderedDict()
        self._machine_verdicts: OrderedDict[str, None] = OrderedDict()
        """Calls a machine answered before their media stream started: acted on when it does."""
        self.voicemail_messages: dict[str, str] = {}
        self.routes: list[tuple[str, str]] = [("GET", "/health")]
        self._draining = False
        self._callbacks: set[asyncio.Future[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.http_app = create_http_app(self._health)
        self.asgi = PatterASGI(self.http_app)  # type: ignore[arg-type]
        if carrier is not None:
            carrier.mount(self)

    # -- CallHost ------------------------------------------------------------------------------

    @property
    def webhook_url(self) -> str:
        return self._webhook_url

    def set_webhook_url(self, host: str) -> None:
        """Change the public host (a tunnel came up after the server started)."""
        self._webhook_url = host

    def add_route(self, path: str, handler: HttpHandler, *, methods: tuple[str, ...] = ("POST",)) -> None:
        add_http_route(self.http_app, path, handler, methods)
        self.routes.append((",".join(methods), path))

    def add_websocket(self, path: str, handler: WebSocketHandler) -> None:
        self.asgi.add_websocket(path, handler)
        self.routes.append(("WS", path))

    def issue_call_token(self, call_id: str, **claims: str) -> str:
        return self.tokens.issue(call_id, **claims)

    def verify_call_token(self, token: str, call_id: str) -> Mapping[str, str] | None:
        return self.tokens.verify(token, call_id)

    @property
    def accepting_calls(self) -> bool:
        return not self._draining

    async def run_call(self, channel: MediaChannel) -> None:
        call_id = channel.call.call_id
        if self._draining:
            log.warning("refusing stream for call %s: the server is shutting down", call_id)
            await channel.close("server shutting down")
            return
        if call_id in self.active:
            log.warning("refusing a second media stream for live call %s", call_id)
            await channel.close("duplicate stream")
            return
        session = self._session_factory(channel)
        self.active[call_id] = session
        self._idle.clear()
        if call_id in self._machine_verdicts:
            del self._machine_verdicts[call_id]
            session.machine_answered(self.voicemail_messages.get(call_id))
        log.info("call %s started (%s, %s)", call_id, channel.call.carrier, channel.call.direction)
        try:
            await _invoke(self._on_call_start, channel.call, timeout=CALL_START_TIMEOUT_S)
            record = await session.run()
        finally:
            self.active.pop(call_id, None)
            self.finished += 1
            if not self.active:
                self._idle.set()
        log.info("call %s ended: %s (%.1f s)", call_id, record.end_reason, record.duration_s)
        await _invoke(self._on_call_end, record)

    def report_status(self, event: CallStatusEvent) -> None:
        if event.outcome is CallOutcome.VOICEMAIL:
            session = self.active.get(event.call_id)
            if session is not None:
                session.machine_answered(self.voicemail_messages.get(event.call_id))
            else:  # the verdict beat the media stream (synchronous machine detection always does)
                self._machine_verdicts[event.call_id] = None
                while len(self._machine_verdicts) > UNWATCHED_STATUS_CALLS:
                    self._machine_verdicts.popitem(last=False)
        self._notify_status(event)

    def _notify_status(self, event: CallStatusEvent) -> None:
        waiters = self._status_waiters.get(event.call_id)
        if not waiters:
            self._keep_unwatched(event)
        for waiter in list(waiters or ()):
            try:
                waiter(event)
            except Exception:
                log.exception("status waiter failed")
        if self._on_status is not None:
            result = self._on_status(event)
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._callbacks.add(task)
                task.add_done_callback(self._callbacks.discard)

    def voicemail_message_for(self, call_id: str) -> str | None:
        return self.voicemail_messages.get(call_id)

    # -- for Patter ------------------------------------------------------------------------------

    def _keep_unwatched(self, event: CallStatusEvent) -> None:
        kept = self._unwatched_status.setdefault(event.call_id, [])
        self._unwatched_status.move_to_end(event.call_id)
        kept.append(event)
        del kept[:-UNWATCHED_STATUS_PER_CALL]
        while len(self._unwatched_status) > UNWATCHED_STATUS_CALLS:
            self._unwatched_status.popitem(last=False)

    def watch_status(self, call_id: str, waiter: Callable[[CallStatusEvent], None]) -> Callable[[], None]:
        """Call ``waiter`` with each status event of ``call_id``, starting with those that arrived
        before anyone watched (replayed on the next loop iteration, in order)."""
        self._status_waiters.setdefault(call_id, []).append(waiter)
        missed = self._unwatched_status.pop(call_id, [])
        if missed:
            asyncio.get_running_loop().call_soon(self._replay, waiter, missed)

        def unwatch() -> None:
            waiters = self._status_waiters.get(call_id, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._status_waiters.pop(call_id, None)

        return unwatch

    @staticmethod
    def _replay(waiter: Callable[[CallStatusEvent], None], events: list[CallStatusEvent]) -> None:
        for event in events:
            try:
                waiter(event)
            except Exception:
                log.exception("status waiter failed")

    def _health(self) -> dict[str, Any]:
        return {
            "status": "draining" if self._draining else "ok",
            "active_calls": len(self.active),
            "finished_calls": self.finished,
            "uptime_s": round(time.time() - self.started_at, 1),
        }

    async def drain(self, timeout: float = 10.0, *, message: str | None = SHUTDOWN_MESSAGE) -> None:
        """Stop admitting calls and end the active ones cleanly (bounded by ``timeout``): the carrier
        tells each caller ``message`` and hangs up, and each call's record is finished."""
        self._draining = True
        enders = [asyncio.ensure_future(session.shut_down(message)) for session in list(self.active.values())]
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("%d call(s) still active after %.0f s of shutdown", len(self.active), timeout)
        for ender in enders:
            ender.cancel()
        if enders:
            await asyncio.wait(enders)

    async def serve(
        self, sock: socket.socket, shutdown: asyncio.Event, *, graceful_timeout: float = 10.0
    ) -> None:
        from patter_core.server.front import lean_media_enabled, serve_front

        if lean_media_enabled():  # media sockets on the lean path, the rest on hypercorn (server/front.py)
            await serve_front(
                self.asgi,
                self.asgi.match_websocket,
                sock,
                shutdown=shutdown,
                graceful_timeout=graceful_timeout,
            )
        else:
            await run_hypercorn(self.asgi, sock, shutdown=shutdown, graceful_timeout=graceful_timeout)

    @staticmethod
    def bind(host: str, port: int) -> socket.socket:
        return bind_socket(host, port)


async def _invoke(callback: Callback | None, value: Any, *, timeout: float | None = None) -> None:
    if callback is None:
        return
    try:
        result = callback(value)
        if inspect.isawaitable(result):
            await asyncio.wait_for(result, timeout)
    except TimeoutError:
        log.error(
            "callback %s did not finish within %g s; the call goes on without it",
            getattr(callback, "__name__", callback),
            timeout,
        )
    except Exception:
        log.exception("callback %s failed", getattr(callback, "__name__", callback))
