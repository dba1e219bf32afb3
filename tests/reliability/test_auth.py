"""Authentication on the core side: per-call media credentials and outgoing webhooks.

* a media stream must carry a token issued for *that* call, not expired: another call's token, an
  expired one or a tampered one is refused before any provider is contacted;
* webhook tools are signed (the receiver verifies with ``verify_signature``), time out, cap the
  response size, never follow redirects, and refuse private / loopback / link-local / metadata
  destinations -- checked on the resolved addresses, so a host name pointing at loopback is refused.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect

from patter_core.errors import ToolError
from patter_core.server.tokens import CallTokens
from patter_core.testing import FakeCarrierSimulator
from patter_core.tools import ToolContext
from patter_core.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SSRFError,
    post_signed,
    verify_signature,
    webhook_tool,
)

# -- per-call media tokens ----------------------------------------------------------------------


def test_tokens_expire() -> None:
    now = [1_000_000.0]
    tokens = CallTokens(b"k" * 32, ttl_s=600, clock=lambda: now[0])
    token = tokens.issue("CA1", caller="+15550001111")
    now[0] += 599
    assert tokens.verify(token, "CA1") == {"caller": "+15550001111"}
    now[0] += 2
    assert tokens.verify(token, "CA1") is None


call_ids = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=40)


@settings(max_examples=100, deadline=None, database=None)
@given(a=call_ids, b=call_ids, position=st.integers(min_value=0), replacement=st.characters())
def test_a_token_is_bound_to_its_call_and_to_every_character(
    a: str, b: str, position: int, replacement: str
) -> None:
    tokens = CallTokens(b"k" * 32)
    token = tokens.issue(a)
    assert tokens.verify(token, a) == {}
    if a != b:
        assert tokens.verify(token, b) is None
    i = position % len(token)
    tampered = token[:i] + replacement + token[i + 1 :]
    if tampered != token:
        assert tokens.verify(tampered, a) is None


@pytest.mark.parametrize("served", [pytest.param(FakeCarrierSimulator, id="fake")], indirect=True)
@pytest.mark.parametrize("case", ["other call", "expired", "tampered", "no token"])
async def test_a_stream_without_a_valid_token_for_its_call_is_refused(served, case: str, no_leaks) -> None:
    """(The fake carrier's start frame carries the token; each carrier plugin tests its own spelling.)"""
    tokens = served.phone.tokens  # the server's own signing key: only the call id, expiry or bytes are wrong
    token = {
        "other call": tokens.issue("CA-A"),
        "expired": CallTokens(served.secret.encode(), ttl_s=600, clock=lambda: 0.0).issue("CA-B"),
        "tampered": tokens.issue("CA-B")[:-2] + "xx",
        "no token": "",
    }[case]
    async with connect(f"ws://127.0.0.1:{served.phone.port}/ws/fake/stream/CA-B") as ws:
        await ws.send(json.dumps({"event": "start", "call_id": "CA-B", "token": token}))
        await asyncio.wait_for(ws.wait_closed(), 10)
    assert ws.close_code == 1008
    assert served.engine.sessions == []  # refused before any provider was contacted
    assert tokens.verify(tokens.issue("CA-B"), "CA-B") is not None  # the shared secret itself is fine


# -- webhook tools ---------------------------------------------------------------------------------

Responder = Callable[[dict[str, str], bytes], Awaitable[bytes]]


async def _serve_http(respond: Responder) -> AsyncIterator[tuple[int, list[tuple[dict[str, str], bytes]]]]:
    """A minimal HTTP/1.1 server on 127.0.0.1 (plain HTTP: webhook tools allow it only with allow_private)."""
    seen: list[tuple[dict[str, str], bytes]] = []
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            seen.append((headers, body))
            writer.write(await respond(headers, body))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            handlers.discard(task)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        server.close()
        await server.wait_closed()


def _response(status: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\ncontent-length: {len(body)}\r\n{extra}connection: close\r\n\r\n".encode()
        + body
    )


@pytest.fixture
async def http_server() -> AsyncIterator[Callable[[Responder], object]]:
    servers: list[object] = []

    def start(respond: Responder):  # type: ignore[no-untyped-def]
        generator = _serve_http(respond)
        servers.append(generator)
        return generator

    yield start
    for generator in servers:
        await generator.aclose()  # type: ignore[attr-defined]


async def test_webhook_tool_is_signed_and_the_receiver_can_verify_it(http_server, no_leaks) -> None:
    async def respond(headers: dict[str, str], body: bytes) -> bytes:
        return _response("200 OK", b'{"booked": true}')

    async with _ctx(http_server(respond)) as (port, seen):
        book = webhook_tool(
            "book",
            f"http://127.0.0.1:{port}/hooks/book",
            description="Book.",
            secret="tool-secret",
            allow_private=True,
        )
        result = await book.run('{"day": "Tuesday"}', ToolContext())
    assert result.output == '{"booked": true}' and not result.error
    headers, body = seen[0]
    assert json.loads(body)["arguments"] == {"day": "Tuesday"}
    assert verify_signature(
        "tool-secret", headers[TIMESTAMP_HEADER.lower()], body, headers[SIGNATURE_HEADER.lower()]
    )
    assert not verify_signature(
        "other-secret", headers[TIMESTAMP_HEADER.lower()], body, headers[SIGNATURE_HEADER.lower()]
    )
    assert not verify_signature(
        "tool-secret", headers[TIMESTAMP_HEADER.lower()], body + b" ", headers[SIGNATURE_HEADER.lower()]
    )


async def test_webhook_timeout_size_cap_and_no_redirects(http_server, no_leaks) -> None:
    async def slow(headers: dict[str, str], body: bytes) -> bytes:
        await asyncio.Event().wait()
        return b""

    async def huge(headers: dict[str, str], body: bytes) -> bytes:
        return _response("200 OK", b"x" * 100_000)

    async def redirect(headers: dict[str, str], body: bytes) -> bytes:
        return _response("302 Found", b"", "location: http://169.254.169.254/latest/meta-data/\r\n")

    async with _ctx(http_server(slow)) as (port, _):
        with pytest.raises(ToolError, match=r"did not answer within 0\.2 s"):
            await post_signed(f"http://127.0.0.1:{port}/", {}, secret="s", timeout=0.2, allow_private=True)
    async with _ctx(http_server(huge)) as (port, _):
        with pytest.raises(ToolError, match="larger than 1000 bytes"):
            await post_signed(
                f"http://127.0.0.1:{port}/", {}, secret="s", max_response_bytes=1000, allow_private=True
            )
    async with _ctx(http_server(redirect)) as (port, seen):
        with pytest.raises(ToolError, match="HTTP 302"):
            await post_signed(f"http://127.0.0.1:{port}/", {}, secret="s", allow_private=True)
        assert len(seen) == 1  # the redirect was not followed


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.10",
        "169.254.169.254",  # cloud metadata
        "[::1]",
        "[::ffff:127.0.0.1]",  # IPv4-mapped loopback
        "0.0.0.0",
        "2130706433",  # 127.0.0.1 spelled as one number: caught because the check is on the resolved address
        "localhost",  # a host name that resolves to loopback
    ],
)
async def test_ssrf_guard_refuses_private_destinations(http_server, host: str, no_leaks) -> None:
    async def respond(headers: dict[str, str], body: bytes) -> bytes:
        return _response("200 OK", b"reached")

    async with _ctx(http_server(respond)) as (port, seen):
        with pytest.raises(SSRFError, match="allow_private=True"):
            await post_signed(f"http://{host}:{port}/hook", {"x": 1}, secret="s")
        tool = webhook_tool("t", f"https://{host}:{port}/hook", description="d", secret="s")
        result = await tool.run("{}", ToolContext())
        assert result.error and "private/loopback/link-local" in result.output
    assert seen == []  # nothing was ever sent


def test_webhook_tools_need_a_secret_and_https() -> None:
    from patter_core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="signing secret"):
        webhook_tool("t", "https://example.com/hook", description="d", secret="")
    with pytest.raises(ConfigurationError, match="https"):
        webhook_tool("t", "http://example.com/hook", description="d", secret="s")


class _ctx:
    """``async with`` over an async generator that yields once (the test server)."""

    def __init__(self, generator) -> None:  # type: ignore[no-untyped-def]
        self.generator = generator

    async def __aenter__(self):  # type: ignore[no-untyped-def]
        return await self.generator.__anext__()

    async def __aexit__(self, *exc: object) -> None:
        await self.generator.aclose()
