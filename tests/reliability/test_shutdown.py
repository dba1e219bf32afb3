"""Graceful shutdown: stop accepting calls, end active calls with a short message, exit in bounded time.

The first test is the real thing: ``patter-core serve`` in a subprocess with a live call over the
fake carrier, then SIGTERM. ``bench/shutdown.py`` measures the same path with more calls (figures in
docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from patter_core.interfaces.carrier import CallInfo
from patter_core.session.call import SHUTDOWN_MESSAGE
from patter_core.session.record_sink import read_records, record_path
from patter_core.testing import FakeCarrier, FakeCarrierSimulator, FakeEngine, sign_fake_webhook

PLUGIN = """
from patter_core import hookimpl
from patter_core.testing import FakeCarrier

@hookimpl
def register_carriers(register):
    register(FakeCarrier, name="fake")
"""

APP = """
from patter_core.testing import FakeEngine

def make_agent(phone):
    return phone.agent(system_prompt="hi", engine=FakeEngine(), first_message="Hello, this is Acme, how can I help?")
"""


def start_server(plugin_site, tmp_path: Path) -> tuple[subprocess.Popen[str], int]:  # type: ignore[no-untyped-def]
    plugin_site.add("patter-fakecarrier", "patter_fakecarrier_hooks", PLUGIN)
    (plugin_site.root / "shutdown_app.py").write_text(APP)
    env = dict(
        os.environ,
        PYTHONPATH=str(plugin_site.root),
        PATTER_CARRIER="fake",
        PATTER_WEBHOOK_URL="agent.test",
        PATTER_RECORDS_DIR=str(tmp_path / "records"),
    )
    command = [sys.executable, "-m", "patter_core.cli", "serve", "shutdown_app:make_agent"]
    command += ["--host", "127.0.0.1", "--port", "0", "--recordings", str(tmp_path / "wav")]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    banner = ""
    assert process.stdout is not None
    while time.monotonic() < deadline and "/ws/fake/stream/" not in banner:
        line = process.stdout.readline()
        if not line:
            break
        banner += line
    assert "127.0.0.1:" in banner, banner + (process.stderr.read() if process.stderr else "")
    return process, int(banner.split("127.0.0.1:")[1].split()[0])


async def test_sigterm_ends_live_calls_with_a_message_and_exits(plugin_site, tmp_path: Path) -> None:
    process, port = start_server(plugin_site, tmp_path)
    try:
        body = json.dumps({"call_id": "CAterm1", "from": "+15550001111", "to": "+15550002222"}).encode()
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                f"http://127.0.0.1:{port}/webhooks/fake/voice",
                content=body,
                headers={"X-Fake-Signature": sign_fake_webhook("fake-carrier-secret", body)},
            )
        token = answer.json()["token"]
        async with connect(f"ws://127.0.0.1:{port}/ws/fake/stream/CAterm1") as ws:
            await ws.send(json.dumps({"event": "start", "call_id": "CAterm1", "token": token}))
            for _ in range(10):  # the greeting is playing: a live call
                await asyncio.wait_for(ws.recv(), 10)
                await ws.send(json.dumps({"event": "media", "payload": "/////////////////////w=="}))
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 20)
        code = await asyncio.to_thread(process.wait, 30)
        shutdown_s = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 0, process.stderr.read() if process.stderr else ""
    print(f"\nshutdown with 1 live call: {shutdown_s:.2f} s from SIGTERM to exit")
    entries = read_records(record_path(tmp_path / "records", "CAterm1"))
    assert entries[0]["kind"] == "start" and entries[-1]["kind"] == "end"
    assert entries[-1]["data"]["reason"] == "server shutdown"
    hangups = [e["data"] for e in entries if e["kind"] == "event" and e["data"]["type"] == "hangup"]
    assert hangups and hangups[-1]["data"] == {"reason": "server shutdown", "message": SHUTDOWN_MESSAGE}
    with wave.open(str(tmp_path / "wav" / "CAterm1.wav")) as wav:
        assert wav.getnchannels() == 2 and wav.getnframes() > 0


class SlowHangupCarrier(FakeCarrier):
    """Its hang-up request (the shutdown message) takes until the test releases it."""

    def __init__(self, *, secret: str = "fake-carrier-secret", fail_transfer: bool = False) -> None:
        super().__init__(secret=secret, fail_transfer=fail_transfer)
        self.hanging_up = asyncio.Event()
        self.release = asyncio.Event()

    async def hangup(self, call: CallInfo, *, message: str | None = None) -> None:
        self.hanging_up.set()
        await self.release.wait()
        await super().hangup(call, message=message)


class SlowSimulator(FakeCarrierSimulator):
    def make_carrier(self) -> SlowHangupCarrier:
        return SlowHangupCarrier(secret="slow-simulator-secret-0123456789")


async def test_while_draining_new_calls_are_refused_and_health_says_so(no_leaks) -> None:
    from patter_core.phone import Patter
    from patter_core.plugins import make_plugin_manager
    from patter_core.registry import Registry

    async with SlowSimulator(webhook_host="agent.test") as sim:
        phone = Patter(
            carrier=sim.carrier,
            webhook_url=sim.webhook_host,
            registry=Registry(make_plugin_manager(load_entrypoints=False)),
        )
        engine = FakeEngine()
        serving = asyncio.create_task(
            phone.serve(
                phone.agent(system_prompt="x", engine=engine, first_message="Hello."),
                host="127.0.0.1",
                port=0,
            )
        )
        await phone.wait_ready()
        base = f"http://127.0.0.1:{phone.port}"
        live = await sim.call(base, realtime=False)
        await live.wait_for(lambda: live.heard_ms >= 100)
        stopping = asyncio.create_task(phone.stop())
        await sim.carrier.hanging_up.wait()  # the shutdown message is being delivered
        async with httpx.AsyncClient() as client:
            health = (await client.get(f"{base}/health")).json()
        assert health["status"] == "draining" and health["active_calls"] == 1
        late = await sim.call(base, realtime=False)  # a stream arriving now is refused
        await asyncio.wait_for(late.closed.wait(), 10)
        assert len(engine.sessions) == 1  # no provider was contacted for it
        sim.carrier.release.set()
        await asyncio.wait_for(stopping, 20)
        await asyncio.wait_for(serving, 20)
        await asyncio.wait_for(live.closed.wait(), 10)
        await live.close()
        await late.close()
    assert sim.carrier.hangups[0][1] == SHUTDOWN_MESSAGE
