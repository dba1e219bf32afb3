"""The suite runs under a network guard; check that the guard really guards and allows loopback."""

from __future__ import annotations

import asyncio
import socket

import pytest
from patter_local.testing import NetworkBlockedError, NetworkGuard, is_local_address


def test_the_session_guard_is_active(network_blocked: NetworkGuard) -> None:
    assert network_blocked.active


@pytest.mark.parametrize(
    "address", [("127.0.0.1", 80), ("127.8.9.10", 1), ("::1", 443, 0, 0), ("localhost", 8000), "/tmp/x.sock"]
)
def test_loopback_addresses_are_allowed(address: object) -> None:
    assert is_local_address(address)


@pytest.mark.parametrize(
    "address", [("192.0.2.1", 443), ("2001:db8::1", 443, 0, 0), ("example.com", 80), ("10.0.0.1", 80)]
)
def test_other_addresses_are_not(address: object) -> None:
    assert not is_local_address(address)


def test_a_non_loopback_connection_is_refused_before_any_packet() -> None:
    """Uses a fresh inner guard with a socket whose real connect would fail loudly if ever reached."""
    with NetworkGuard() as guard, socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(NetworkBlockedError, match=r"192\.0\.2\.1"):
            sock.connect(("192.0.2.1", 9))
        with pytest.raises(NetworkBlockedError, match=r"example\.invalid"):
            socket.getaddrinfo("example.invalid", 80)
    assert len(guard.blocked) == 2


async def test_loopback_connections_still_work() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping\n")
        assert await reader.readline() == b"ping\n"
        writer.close()
        await writer.wait_closed()


def test_the_session_guard_refuses_lookups_in_tests_too(network_blocked: NetworkGuard) -> None:
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("pypi.org", 443)
    assert network_blocked.blocked == ["name lookup of 'pypi.org'"]
    network_blocked.blocked.clear()  # expected here; any other attempt fails the test that made it
