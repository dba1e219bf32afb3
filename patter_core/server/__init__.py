"""Patter's server: quart on hypercorn for webhooks, direct ASGI for media WebSockets."""

from patter_core.server.http import (
    BadRequest,
    HttpRequest,
    HttpResponse,
    WebSocketClosed,
    WebSocketConnection,
)
from patter_core.server.media import JsonMediaChannel, accept_stream
from patter_core.server.tokens import CallTokens

__all__ = [
    "BadRequest",
    "CallTokens",
    "HttpRequest",
    "HttpResponse",
    "JsonMediaChannel",
    "WebSocketClosed",
    "WebSocketConnection",
    "accept_stream",
]
