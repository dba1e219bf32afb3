"""A public URL for a local server through a ``cloudflared`` quick tunnel (for development).

``serve(agent, tunnel=True)`` starts ``cloudflared tunnel --url http://127.0.0.1:<port>`` from PATH,
reads the ``https://<name>.trycloudflare.com`` host it prints, waits until the tunnel answers
``/health``, uses the host as ``webhook_url``, and stops the process on exit. Nothing is downloaded:
without ``cloudflared`` on PATH the error says how to install it, or to pass ``webhook_url=`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator

import httpx

from patter_core.errors import ConfigurationError

__all__ = ["find_cloudflared", "open_tunnel"]

_HOST_RE = re.compile(r"https://([a-z0-9-]+\.trycloudflare\.com)")
INSTALL_HINT = (
    "cloudflared is not on PATH: install it (https://developers.cloudflare.com/cloudflare-one/"
    "connections/connect-networks/downloads/ -- e.g. `brew install cloudflared`, or the .deb/.rpm "
    "package), or expose the port yourself and pass Patter(webhook_url='your-public-host')"
)


def find_cloudflared() -> str | None:
    return shutil.which(os.environ.get("PATTER_CLOUDFLARED", "cloudflared"))


@contextlib.asynccontextmanager
async def open_tunnel(
    port: int, *, timeout: float = 30.0, check_health: bool | None = None
) -> AsyncIterator[str]:
    """Yield the public host of a quick tunnel to ``127.0.0.1:port``; stop it on exit.

    ``check_health`` (default: on, unless ``PATTER_TUNNEL_VERIFY=0``) waits until
    ``https://<host>/health`` answers through the tunnel before the host is used.
    """
    if check_health is None:
        check_health = os.environ.get("PATTER_TUNNEL_VERIFY", "1") != "0"
    binary = find_cloudflared()
    if binary is None:
        raise ConfigurationError(INSTALL_HINT)
    process = await asyncio.create_subprocess_exec(
        binary,
        "tunnel",
        "--no-autoupdate",
        "--url",
        f"http://127.0.0.1:{port}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        host = await asyncio.wait_for(_read_host(process), timeout)
        if check_health:
            await asyncio.wait_for(_wait_healthy(host), timeout)
        yield host
    except TimeoutError:
        raise ConfigurationError(
            f"cloudflared did not provide a working tunnel within {timeout:g} s; check its output, "
            "or pass webhook_url= instead"
        ) from None
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _read_host(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    while True:
        line = await process.stdout.readline()
        if not line:
            raise ConfigurationError(
                f"cloudflared exited (code {process.returncode}) before printing a tunnel URL"
            )
        match = _HOST_RE.search(line.decode("utf-8", errors="replace"))
        if match:
            return match.group(1)


async def _wait_healthy(host: str) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            try:
                response = await client.get(f"https://{host}/health")
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
