"""A tiny local server that speaks plain HTTP/1.1 and WebSocket on one port, for the fakes.

ElevenLabs serves REST (``POST .../stream``, ``GET .../get-signed-url``) and WebSockets under one API
root, so a fake must too, and ``websockets`` alone only answers GET requests without a body. This
front listens on ``127.0.0.1:0``: a request carrying ``Upgrade: websocket`` is piped byte for byte to an
internal :mod:`websockets` server (so handlers get a real :class:`ServerConnection`, close codes and
``transport.abort()`` drops included); any other request goes to the fake's HTTP handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import attrs
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

__all__ = ["FrontServer", "HttpRequest", "HttpResponder"]


@attrs.frozen
class HttpRequest:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    """Lower-cased header names."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class HttpResponder:
    """Writes one HTTP/1.1 response (``Connection: close``) to the client."""

    _REASONS = {
        200: "OK",
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        422: "Unprocessable Entity",
        429: "Too Many Requests",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    def _head(self, status: int, headers: Mapping[str, str]) -> None:
        lines = [f"HTTP/1.1 {status} {self._REASONS.get(status, 'Status')}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    async def send(
        self, status: int, body: bytes | str | Any, content_type: str = "application/json"
    ) -> None:
        """A whole response; non-bytes bodies are sent as JSON."""
        if isinstance(body, str):
            data = body.encode()
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        self._head(status, {"Content-Type": content_type, "Content-Length": str(len(data))})
        self._writer.write(data)
        await self._writer.drain()

    async def stream(self, status: int, chunks: AsyncIterator[bytes], content_type: str) -> None:
        """A ``Transfer-Encoding: chunked`` response, one HTTP chunk per item, flushed as produced."""
        self._head(status, {"Content-Type": content_type, "Transfer-Encoding": "chunked"})
        async for chunk in chunks:
            if chunk:
                self._writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await self._writer.drain()
        self._writer.write(b"0\r\n\r\n")
        await self._writer.drain()


HttpHandler = Callable[[HttpRequest, HttpResponder], Awaitable[None]]
WsHandler = Callable[[ServerConnection], Awaitable[None]]
ProcessRequest = Callable[[ServerConnection, Request], Awaitable[Response | None]]


class FrontServer:
    """One local port for HTTP and WebSocket; ``base_url`` is ``http://127.0.0.1:<port>``."""

    def __init__(
        self, http_handler: HttpHandler, ws_handler: WsHandler, process_request: ProcessRequest | None = None
    ) -> None:
        self._http_handler = http_handler
        self._ws_handler = ws_handler
        self._process_request = process_request
        self._ws_server: Server | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._ws_server = await serve(
            self._ws_handler,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            compression=None,
            max_size=16 * 1024 * 1024,
            ping_interval=None,
        )
        self._ws_port = next(iter(self._ws_server.sockets)).getsockname()[1]
        self._server = await asyncio.start_server(self._on_client, "127.0.0.1", 0, limit=1 << 20)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._ws_server is not None:
            self._ws_server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws_server.wait_closed(), 5)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = [*lines[0].split(" ", 2), "", ""][:3]
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            if headers.get("upgrade", "").lower() == "websocket":
                await self._pipe(head, reader, writer)
                return
            body = b""
            if headers.get("content-length"):
                body = await reader.readexactly(int(headers["content-length"]))
            url = urllib.parse.urlsplit(target)
            query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            await self._http_handler(
                HttpRequest(method, url.path, query, headers, body), HttpResponder(writer)
            )
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.close()

    async def _pipe(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._ws_port)
        self._writers.add(up_writer)
        up_writer.write(head)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
                dst.close()  # orderly end: pass the FIN on
            except (ConnectionError, OSError):
                dst.transport.abort()  # a reset (a fake's "drop") reaches the client as a reset

        try:
            await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        finally:
            self._writers.discard(up_writer)
            up_writer.close()
