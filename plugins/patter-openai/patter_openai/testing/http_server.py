"""A tiny HTTP/1.1 server on ``asyncio.start_server`` for fakes that stream (SSE, chunked audio).

One request per connection (``Connection: close``), ``Content-Length`` request bodies, and responses
either whole or chunked (``Transfer-Encoding: chunked``) so each chunk reaches the client as it is
written. A client that goes away mid-response is noticed (its half of the socket reaches EOF) and
recorded on the request as ``disconnected``, so tests can assert that closing a stream really closed
the HTTP request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs

__all__ = ["HttpReply", "RecordedRequest", "TinyHttpServer"]

log = logging.getLogger("patter.openai.testing")
_MAX_BODY = 64 * 1024 * 1024


@attrs.define(eq=False)
class RecordedRequest:
    """One request the fake received, and what became of it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    completed: bool = False
    """The whole response was written."""
    disconnected: bool = False
    """The client closed the connection before the response was complete."""
    finished: asyncio.Event = attrs.field(factory=asyncio.Event)

    def json(self) -> Any:
        return json.loads(self.body)


@attrs.define
class HttpReply:
    """A handler's answer: a whole ``body`` or a ``stream`` of chunks."""

    status: int = 200
    headers: dict[str, str] = attrs.field(factory=dict)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> HttpReply:
        return cls(
            status=status, headers={"Content-Type": "application/json"}, body=json.dumps(payload).encode()
        )


Handler = Callable[[RecordedRequest], Awaitable[HttpReply]]
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class TinyHttpServer:
    def __init__(self, handler: Handler, *, host: str = "127.0.0.1") -> None:
        self._handler = handler
        self.host = host
        self.port = 0
        self.requests: list[RecordedRequest] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            request = await self._read_request(reader)
            if request is not None:
                self.requests.append(request)
                await self._respond(request, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> RecordedRequest | None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if length > _MAX_BODY:
            return None
        body = await reader.readexactly(length) if length else b""
        return RecordedRequest(method=method, path=target, headers=headers, body=body)

    async def _respond(
        self, request: RecordedRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            reply = await self._handler(request)
        except Exception as exc:  # a fake bug must be visible to the client, not hang it
            log.exception("fake HTTP handler failed")
            reply = HttpReply.json(
                {"error": {"message": f"fake handler failed: {exc!r}", "type": "server_error"}}, status=500
            )
        request.status = reply.status
        head = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}", "Connection: close"]
        head += [f"{k}: {v}" for k, v in reply.headers.items()]
        if reply.stream is None:
            head.append(f"Content-Length: {len(reply.body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
            await writer.drain()
            request.completed = True
            request.finished.set()
            return
        head.append("Transfer-Encoding: chunked")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        gone = asyncio.ensure_future(reader.read(1))  # EOF (b"") when the client hangs up
        chunks = reply.stream.__aiter__()
        try:
            while True:
                following = asyncio.ensure_future(chunks.__anext__())
                await asyncio.wait({following, gone}, return_when=asyncio.FIRST_COMPLETED)
                if not following.done():  # the client went away while the fake was waiting
                    following.cancel()
                    with contextlib.suppress(BaseException):
                        await following
                    return
                try:
                    chunk = following.result()
                except StopAsyncIteration:
                    break
                except Exception:  # the script asked for a cut connection (or the fake broke): abort
                    log.debug("fake HTTP stream aborted", exc_info=True)
                    writer.transport.abort()
                    return
                if chunk:
                    writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            request.completed = True
        except ConnectionError:
            request.disconnected = True
        finally:
            if not request.completed:
                request.disconnected = True
            gone.cancel()
            with contextlib.suppress(BaseException):
                await gone
            aclose = getattr(reply.stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
            request.finished.set()
