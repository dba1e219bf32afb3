"""Framework-neutral request, response and WebSocket types that carrier handlers receive.

Carriers never touch the web framework: the core adapts each incoming request to
:class:`HttpRequest` (raw body kept byte-for-byte, as signature checks need) and each media socket to a
:class:`WebSocketConnection`, so the media path can be served by whichever stack measures fastest.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import attrs

__all__ = [
    "BadRequest",
    "HttpRequest",
    "HttpResponse",
    "WebSocketClosed",
    "WebSocketConnection",
    "merged_headers",
]

MAX_BODY_BYTES = 256 * 1024
"""Webhook bodies larger than this are refused with 413 before a handler runs."""


def merged_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header names lower-cased; a repeated header's values joined with ``", "`` (RFC 9110 5.3)."""
    headers: dict[str, str] = {}
    for raw_name, value in pairs:
        name = raw_name.lower()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


class BadRequest(ValueError):
    """Raise from a handler for input that is malformed; the client gets 400 with the message."""


@attrs.frozen
class HttpRequest:
    method: str
    path: str
    query_string: str
    """Raw query string, without ``?``, byte-for-byte as received (signatures cover it)."""
    headers: Mapping[str, str]
    """Lower-cased header names."""
    body: bytes
    path_params: Mapping[str, str] = attrs.field(factory=dict)
    remote_addr: str | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def form_items(self) -> list[tuple[str, str]]:
        """The ``application/x-www-form-urlencoded`` body as ordered pairs (repeats and blanks kept)."""
        try:
            text = self.body.decode("utf-8")
            return parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=1000)
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadRequest(f"malformed form body: {exc}") from None

    def form(self) -> dict[str, str]:
        """The form as a dict (last value wins for repeated names)."""
        return dict(self.form_items())

    def query_items(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query_string, keep_blank_values=True)

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadRequest(f"malformed JSON body: {exc}") from None
        except RecursionError:  # e.g. 256 KiB of "[": a 400, not a 500
            raise BadRequest("malformed JSON body: nested too deeply") from None


@attrs.frozen
class HttpResponse:
    status: int = 200
    body: bytes | str = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def xml(cls, body: str, status: int = 200) -> HttpResponse:
        return cls(status=status, body=body, content_type="text/xml; charset=utf-8")

    @classmethod
    def json(cls, data: Any, status: int = 200) -> HttpResponse:
        return cls(status=status, body=json.dumps(data), content_type="application/json")

    @classmethod
    def text(cls, body: str, status: int = 200) -> HttpResponse:
        return cls(status=status, body=body)

    @classmethod
    def forbidden(cls, reason: str = "forbidden") -> HttpResponse:
        return cls(status=403, body=reason)

    @classmethod
    def empty(cls, status: int = 204) -> HttpResponse:
        return cls(status=status, body=b"")


class WebSocketClosed(Exception):
    """The peer closed the socket (or it dropped)."""

    def __init__(self, code: int | None = None, reason: str = "") -> None:
        super().__init__(f"websocket closed ({code}) {reason}".strip())
        self.code, self.reason = code, reason


class WebSocketConnection(abc.ABC):
    """An accepted-or-pending server-side WebSocket."""

    path: str
    query_string: str
    headers: Mapping[str, str]
    path_params: Mapping[str, str]

    @abc.abstractmethod
    async def accept(self) -> None: ...

    @abc.abstractmethod
    async def receive(self) -> str | bytes:
        """Next message; raises :class:`WebSocketClosed` when the peer is gone."""

    @abc.abstractmethod
    async def send(self, data: str | bytes) -> None:
        """Send a message; raises :class:`WebSocketClosed` when the socket is gone."""

    @abc.abstractmethod
    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close (or refuse, before accept); idempotent."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool: ...
