"""The cloudflared quick tunnel, with a fake ``cloudflared`` on PATH (no network)."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from patter_core.errors import ConfigurationError
from patter_core.tunnel import open_tunnel

FAKE = """#!/usr/bin/env python3
import os, sys, time, signal
signal.signal(signal.SIGTERM, lambda *a: (open(os.environ["FAKE_CF_LOG"], "a").write("stopped\\n"), sys.exit(0)))
open(os.environ["FAKE_CF_LOG"], "a").write(" ".join(sys.argv[1:]) + "\\n")
print("2026-11-25 INF Requesting new quick Tunnel on trycloudflare.com...", flush=True)
print("2026-11-25 INF |  https://fancy-words-here.trycloudflare.com  |", flush=True)
while True:
    time.sleep(0.1)
"""


@pytest.fixture
def fake_cloudflared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    binary = tmp_path / "bin" / "cloudflared"
    binary.parent.mkdir()
    binary.write_text(FAKE)
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "cf.log"
    monkeypatch.setenv("PATH", f"{binary.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CF_LOG", str(log))
    monkeypatch.setenv("PATTER_TUNNEL_VERIFY", "0")
    return log


async def test_tunnel_reads_the_host_and_stops_cloudflared(fake_cloudflared: Path) -> None:
    async with open_tunnel(8123) as host:
        assert host == "fancy-words-here.trycloudflare.com"
        assert "tunnel --no-autoupdate --url http://127.0.0.1:8123" in fake_cloudflared.read_text()
    for _ in range(50):
        if "stopped" in fake_cloudflared.read_text():
            break
        await asyncio.sleep(0.05)
    assert "stopped" in fake_cloudflared.read_text()


async def test_serve_with_tunnel_uses_the_tunnel_host(fake_cloudflared: Path) -> None:
    from patter_core.phone import Patter
    from patter_core.registry import Registry
    from patter_core.testing import FakeCarrier, FakeEngine

    phone = Patter(
        carrier=FakeCarrier(),
        phone_number="+15550001111",
        registry=Registry.build(env={"PATTER_DISABLE_PLUGIN_AUTOLOAD": "1"}),
    )
    agent = phone.agent(engine=FakeEngine())
    task = asyncio.create_task(phone.serve(agent, host="127.0.0.1", port=0, tunnel=True))
    await phone.wait_ready()
    assert ("POST", "https://fancy-words-here.trycloudflare.com/webhooks/fake/voice") in phone.routes
    await phone.stop()
    await asyncio.wait_for(task, 20)


async def test_missing_cloudflared_says_how_to_install_or_what_to_use_instead(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigurationError, match=r"cloudflared is not on PATH.*webhook_url"):
        async with open_tunnel(8000):
            pass
