"""The front door (``patter_core.server.front``) and the lean media WebSocket (``server.fastws``).

The server's public port serves media WebSocket routes itself and relays everything else to hypercorn.
These tests pin down that both halves behave as the hypercorn-only server did: HTTP (webhooks, health,
errors, keep-alive, the client's address) unchanged, and media sockets with the ASGI adapter's
semantics (refusal before accept is HTTP 403, close codes, pings, fragments, UTF-8, order, shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect

from patter_core.server.app import add_http_route, create_http_app
from patter_core.server.asgi import PatterASGI
from patter_core.server.front import lean_media_enabled, serve_front
from patter_core.server.http import HttpRequest, HttpResponse, WebSocketClosed, WebSocketConnection
from patter_core.server.runner import bind_socket


class Served:
    def __init__(self, port: int, seen: list[WebSocketConnection], requests: list[HttpRequest]) -> None:
        self.port, self.seen, self.requests = port, seen, requests
        self.http = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}"


async def _echo(ws: WebSocketConnection) -> None:
    """Echo handler: ``close:<code>`` closes with that code; ``burst:<n>`` sends n numbered messages."""
    await ws.accept()
    while True:
        message = await ws.receive()
        if isinstance(message, str) and message.startswith("close:"):
            await ws.close(int(message[6:]), "bye")
            return
        if isinstance(message, str) and message.startswith("burst:"):
            for i in range(int(message[6:])):
                await ws.send(f"{i}")
            continue
        await ws.send(message)


async def _refuse(ws: WebSocketConnection) -> None:
    await ws.close(1008, "no")  # before accept: the upgrade is refused


@contextlib.asynccontextmanager
async def serve(graceful_timeout: float = 2.0) -> AsyncIterator[Served]:
    seen: list[WebSocketConnection] = []
    requests: list[HttpRequest] = []
    app = PatterASGI(create_http_app(lambda: {"status": "ok"}))  # type: ignore[arg-type]

    async def echo(ws: WebSocketConnection) -> None:
        seen.append(ws)
        await _echo(ws)

    async def hook(request: HttpRequest) -> HttpResponse:
        requests.append(request)
        return HttpResponse.text(f"got {len(request.body)} bytes")

    app.add_websocket("/ws/echo/{call_id}", echo)
    app.add_websocket("/ws/refuse/{call_id}", _refuse)
    add_http_route(app.http_app, "/webhooks/test", hook, ("POST",))  # type: ignore[arg-type]
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    stop = asyncio.Event()
    task = asyncio.create_task(
        serve_front(app, app.match_websocket, sock, shutdown=stop, graceful_timeout=graceful_timeout)
    )
    try:
        yield Served(port, seen, requests)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    async with serve() as s:
        yield s


# -- HTTP through the front door --------------------------------------------------------------------


async def test_http_is_relayed_to_hypercorn_with_the_clients_address(served: Served) -> None:
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{served.http}/health")).json() == {"status": "ok"}
        response = await client.post(f"{served.http}/webhooks/test", content=b"x" * 5000)
        assert response.status_code == 200 and response.text == "got 5000 bytes"
        assert (await client.get(f"{served.http}/nothing-here")).status_code == 404
        too_big = await client.post(f"{served.http}/webhooks/test", content=b"x" * (300 * 1024))
        assert too_big.status_code == 413
    # the handler saw the real client address (the relay's own loopback port would be a different one)
    assert served.requests[0].remote_addr == "127.0.0.1"


async def test_keep_alive_requests_on_one_connection(served: Served) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        for _ in range(3):
            writer.write(b"POST /webhooks/test HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200")
            length = next(
                int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")
            )
            assert await reader.readexactly(length) == b"got 2 bytes"
    finally:
        writer.close()
    assert len(served.requests) == 3


# -- media WebSockets on the lean path ----------------------------------------------------------------


async def test_media_socket_is_served_on_the_lean_path_with_headers_and_params(served: Served) -> None:
    async with connect(f"{served.ws}/ws/echo/CA42?x=1", additional_headers={"X-Test": "yes"}) as ws:
        await ws.send("hello")
        assert await asyncio.wait_for(ws.recv(), 5) == "hello"
        await ws.send(b"\x00\x01binary")
        assert await asyncio.wait_for(ws.recv(), 5) == b"\x00\x01binary"
    conn = served.seen[0]
    assert type(conn).__name__ == "MediaWebSocket"
    assert conn.path == "/ws/echo/CA42" and conn.query_string == "x=1"
    assert conn.path_params == {"call_id": "CA42"} and conn.headers["x-test"] == "yes"


async def test_a_burst_of_sends_arrives_complete_and_in_order(served: Served) -> None:
    async with connect(f"{served.ws}/ws/echo/CA1") as ws:
        await ws.send("burst:500")
        received = [await asyncio.wait_for(ws.recv(), 5) for _ in range(500)]
    assert received == [str(i) for i in range(500)]


async def test_fragmented_and_large_messages_are_reassembled(served: Served) -> None:
    async with connect(f"{served.ws}/ws/echo/CA1", max_size=None) as ws:
        await ws.send(["frag", "mented", " message"])
        assert await asyncio.wait_for(ws.recv(), 5) == "fragmented message"
        big = "x" * 200_000
        await ws.send(big)
        assert await asyncio.wait_for(ws.recv(), 5) == big


async def test_pings_are_answered(served: Served) -> None:
    async with connect(f"{served.ws}/ws/echo/CA1") as ws:
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)


async def test_handler_close_code_and_reason_reach_the_client(served: Served) -> None:
    async with connect(f"{served.ws}/ws/echo/CA1") as ws:
        await ws.send("close:4001")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "bye")


async def test_close_before_accept_refuses_the_upgrade_with_403(served: Served) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(f"{served.ws}/ws/refuse/CA1"):
            pass
    assert refused.value.response.status_code == 403


async def test_unknown_websocket_path_is_refused_by_the_asgi_app(served: Served) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(f"{served.ws}/ws/unknown/CA1"):
            pass
    assert refused.value.response.status_code == 403


async def test_invalid_utf8_text_closes_with_1007(served: Served) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(
            b"GET /ws/echo/CA1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101")
        writer.write(bytes((0x81, 0x82, 0, 0, 0, 0)) + b"\xff\xfe")  # masked text frame, invalid UTF-8
        close = await asyncio.wait_for(reader.readexactly(4), 5)
        assert close[0] == 0x88 and int.from_bytes(close[2:4], "big") == 1007
    finally:
        writer.close()


async def test_client_disconnect_ends_receive_with_websocket_closed(served: Served) -> None:
    ws = await connect(f"{served.ws}/ws/echo/CA1")
    await ws.send("ping")
    await asyncio.wait_for(ws.recv(), 5)
    ws.transport.abort()
    conn = served.seen[0]
    for _ in range(100):
        if conn.closed:
            break
        await asyncio.sleep(0.02)
    assert conn.closed
    with pytest.raises(WebSocketClosed):
        await conn.send("too late")


async def test_shutdown_cancels_media_handlers_after_the_graceful_timeout() -> None:
    async with serve(graceful_timeout=0.5) as s:
        ws = await connect(f"{s.ws}/ws/echo/CA1")
        await ws.send("x")
        await asyncio.wait_for(ws.recv(), 5)
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 5)


def test_the_lean_path_can_be_turned_off(monkeypatch: Any) -> None:
    assert lean_media_enabled()
    monkeypatch.setenv("PATTER_MEDIA_SERVER", "hypercorn")
    assert not lean_media_enabled()


async def test_the_asgi_app_sees_the_clients_own_port() -> None:
    """Requests relayed to hypercorn carry the client's address and port, not the relay's."""
    from patter_core.server.front import _ClientAddress

    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope.get("client"))

    peers = {50000: ("203.0.113.7", 41234)}
    await _ClientAddress(app, peers)({"type": "http", "client": ("127.0.0.1", 50000)}, None, None)
    await _ClientAddress(app, peers)({"type": "http", "client": ("127.0.0.1", 50001)}, None, None)
    await _ClientAddress(app, peers)({"type": "lifespan"}, None, None)
    assert seen == [("203.0.113.7", 41234), ("127.0.0.1", 50001), None]
