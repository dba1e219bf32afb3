"""The ASGI entry point: media WebSockets served directly, everything else by quart.

Media streams carry fifty small frames a second per direction per call, so their WebSocket routes are
dispatched here on raw ASGI events, without the web framework's per-message machinery; and a peer that
disconnects simply ends ``receive()`` with :class:`WebSocketClosed` instead of cancelling the handler,
so a hang-up ends the call through the normal path (record, recording, callbacks). HTTP requests and
lifespan events go to the quart app.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from patter_core.server.http import WebSocketClosed, WebSocketConnection, merged_headers

__all__ = ["AsgiWebSocket", "PatterASGI", "compile_path", "run_media_handler"]

log = logging.getLogger("patter.server")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WsHandler = Callable[[WebSocketConnection], Awaitable[None]]

_PARAM = re.compile(r"\{(\w+)\}")


def compile_path(template: str) -> re.Pattern[str]:
    """``/ws/stream/{call_id}`` -> a regex with a named group per ``{segment}``."""
    pattern, last = "", 0
    for match in _PARAM.finditer(template):
        pattern += re.escape(template[last : match.start()]) + f"(?P<{match.group(1)}>[^/]+)"
        last = match.end()
    return re.compile(pattern + re.escape(template[last:]))


class AsgiWebSocket(WebSocketConnection):
    def __init__(self, scope: Scope, receive: Receive, send: Send, path_params: Mapping[str, str]) -> None:
        self.path = scope.get("path", "")
        self.query_string = bytes(scope.get("query_string", b"")).decode("latin-1")
        self.headers = merged_headers(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in scope.get("headers", [])
        )
        self.path_params = dict(path_params)
        client = scope.get("client")
        self.remote_addr = client[0] if client else None
        self._receive = receive
        self._send = send
        self._accepted = False
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def accept(self) -> None:
        if self._accepted or self._closed:
            return
        self._accepted = True
        await self._send({"type": "websocket.accept"})

    async def receive(self) -> str | bytes:
        if self._closed:
            raise WebSocketClosed(1006, "closed")
        while True:
            message = await self._receive()
            kind = message["type"]
            if kind == "websocket.receive":
                text = message.get("text")
                if text is not None:
                    return str(text)
                return bytes(message.get("bytes") or b"")
            if kind == "websocket.disconnect":
                self._closed = True
                raise WebSocketClosed(message.get("code"), str(message.get("reason") or ""))
            # websocket.connect (already handled) and unknown events: ignore

    async def send(self, data: str | bytes) -> None:
        if self._closed:
            raise WebSocketClosed(1006, "closed")
        event: dict[str, Any] = {"type": "websocket.send"}
        if isinstance(data, str):
            event["text"] = data
        else:
            event["bytes"] = data
        try:
            await self._send(event)
        except Exception as exc:  # the server reports a send on a gone socket in various ways
            self._closed = True
            raise WebSocketClosed(1006, str(exc)) from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except Exception:
            pass


class PatterASGI:
    """Dispatch media WebSocket routes directly; hand everything else to ``http_app``."""

    def __init__(self, http_app: ASGIApp) -> None:
        self.http_app = http_app
        self._ws_routes: list[tuple[re.Pattern[str], WsHandler]] = []

    def add_websocket(self, template: str, handler: WsHandler) -> None:
        self._ws_routes.append((compile_path(template), handler))

    def match_websocket(self, path: str) -> tuple[WsHandler, dict[str, str]] | None:
        """The media route serving ``path`` and its path parameters (``None`` if none does)."""
        for pattern, handler in self._ws_routes:
            match = pattern.fullmatch(path)
            if match is not None:
                return handler, match.groupdict()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.http_app(scope, receive, send)
            return
        found = self.match_websocket(scope.get("path", ""))
        if found is not None:
            await self._serve_ws(found[0], AsgiWebSocket(scope, receive, send, found[1]))
            return
        await receive()
        await send({"type": "websocket.close", "code": 1008, "reason": "unknown path"})

    @staticmethod
    async def _serve_ws(handler: WsHandler, ws: AsgiWebSocket) -> None:
        first = await ws._receive()
        if first.get("type") != "websocket.connect":
            return
        await run_media_handler(handler, ws)


async def run_media_handler(handler: WsHandler, ws: WebSocketConnection) -> None:
    """Run a media route's handler on an accepted-or-acceptable socket, whichever server carries it:
    its errors are logged (the server goes on) and the socket is always closed afterwards."""
    try:
        await handler(ws)
    except WebSocketClosed:
        pass
    except Exception:
        log.exception("media websocket handler failed on %s", ws.path)
        await ws.close(1011, "internal error")
    finally:
        await ws.close(1000, "")
