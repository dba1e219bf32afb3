"""Beyond one process: a call admitted by one server instance streams to another.

Two ``patter-core serve`` processes share only ``PATTER_SECRET`` (as instances behind a load balancer
do). Twilio's voice webhook goes to instance A, which answers with TwiML carrying the per-call token;
the media stream opens on instance B, which has never heard of the call -- the signed, stateless token
is all it needs. The call works end to end on B (greeting heard, the caller's audio reaches the engine
fake, hang-up ends the call and the engine session). A third instance with another secret refuses the
same stream before contacting any provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from patter_core.audio import MULAW_8K
from patter_core.testing import voice

pytest.importorskip("patter_twilio")
pytest.importorskip("patter_openai")
from patter_openai.testing import FakeRealtimeServer
from patter_twilio.testing.simulator import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    TwilioCallerSimulator,
    parse_stream_twiml,
)

WEBHOOK_HOST = "agent.scale.test"
SECRET = "shared-secret-for-the-two-instances-0123"
APP = """
import os
from patter_openai import OpenAIRealtime

def make_agent(phone):
    return phone.agent(
        system_prompt="You answer the phone.",
        engine=OpenAIRealtime(api_key="sk-test", base_url=os.environ["SCALE_ENGINE_URL"]),
        first_message="Hello from whichever instance took the stream.",
    )
"""
_SERVING = re.compile(r"Patter is serving \S+ on [\d.]+:(\d+)")


class Instance:
    """One ``patter-core serve`` subprocess; ``base`` is its local URL once it serves."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process, self.port = process, port
        self.base = f"http://127.0.0.1:{port}"

    async def health(self) -> dict[str, object]:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"{self.base}/health")
        data: dict[str, object] = response.json()
        return data


def _spawn(app_dir: Path, engine_url: str, secret: str) -> subprocess.Popen[str]:
    env = dict(
        os.environ,
        PATTER_SECRET=secret,
        TWILIO_ACCOUNT_SID=DEFAULT_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=DEFAULT_AUTH_TOKEN,
        SCALE_ENGINE_URL=engine_url,
        PYTHONPATH=str(app_dir),
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "patter_core.cli",
            "serve",
            "scale_app:make_agent",
            "--carrier",
            "twilio",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--webhook-url",
            WEBHOOK_HOST,
            "--phone-number",
            "+15550002222",
        ],
        cwd=app_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


async def _start(app_dir: Path, engine_url: str, secret: str) -> Instance:
    process = await asyncio.to_thread(_spawn, app_dir, engine_url, secret)
    assert process.stdout is not None
    stdout = process.stdout

    def first_port() -> int:
        for line in stdout:
            match = _SERVING.search(line)
            if match:
                return int(match.group(1))
        raise AssertionError(f"patter-core serve exited ({process.wait()}) before serving")

    try:
        port = await asyncio.wait_for(asyncio.to_thread(first_port), 60)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return Instance(process, port)


def _stop(instance: Instance) -> None:
    if instance.process.poll() is None:
        instance.process.terminate()
        try:
            instance.process.wait(30)
        except subprocess.TimeoutExpired:
            instance.process.kill()
            instance.process.wait()
    if instance.process.stdout is not None:
        instance.process.stdout.close()


@pytest.fixture
def app_dir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "scale_app.py").write_text(APP)
    yield tmp_path


@pytest.fixture
async def fake() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(pace=1.0) as server:
        yield server


@contextlib.asynccontextmanager
async def instances(app_dir: Path, engine_url: str, *secrets: str) -> AsyncIterator[list[Instance]]:
    started: list[Instance] = []
    try:
        for secret in secrets:
            started.append(await _start(app_dir, engine_url, secret))
        yield started
    finally:
        for instance in started:
            await asyncio.to_thread(_stop, instance)


async def test_webhook_on_one_instance_stream_on_another(app_dir: Path, fake: FakeRealtimeServer) -> None:
    async with instances(app_dir, fake.base_url, SECRET, SECRET) as (a, b):
        # Twilio POSTs the voice webhook to instance A ...
        on_a = TwilioCallerSimulator(server=a.base, webhook_url=WEBHOOK_HOST)
        answer = await on_a.post_voice()
        assert answer.status_code == 200
        stream = parse_stream_twiml(answer.text)
        assert stream is not None and stream.parameters["token"].startswith("v1.")
        # ... and the load balancer sends the media WebSocket to instance B
        on_b = TwilioCallerSimulator(server=b.base, webhook_url=WEBHOOK_HOST, call_sid=on_a.call_sid)
        caller = await on_b.open_stream(stream)
        try:
            await caller.wait_for(lambda: caller.heard_ms >= 300, timeout=20)  # B's greeting is heard
            assert (await b.health())["active_calls"] == 1
            assert (await a.health())["active_calls"] == 0  # A only answered the webhook
            speech = voice(400, MULAW_8K)
            await caller.say(speech)
            conn = fake.connection
            await caller.wait_for(lambda: speech in bytes(conn.audio_in), timeout=10)  # reached the engine
            await caller.hang_up()
            await caller.wait_for(caller.closed.is_set, timeout=10)
            await asyncio.wait_for(conn.closed.wait(), 10)  # B ended the call and its engine session
            for _ in range(100):
                if (await b.health())["active_calls"] == 0:
                    break
                await asyncio.sleep(0.1)
            assert (await b.health())["active_calls"] == 0
            assert fake.invalid_events == []
        finally:
            await on_b.close()


async def test_an_instance_with_another_secret_refuses_the_stream(
    app_dir: Path, fake: FakeRealtimeServer
) -> None:
    async with instances(app_dir, fake.base_url, SECRET, "a-different-secret-0123456789abcd") as (a, c):
        on_a = TwilioCallerSimulator(server=a.base, webhook_url=WEBHOOK_HOST)
        stream = parse_stream_twiml((await on_a.post_voice()).text)
        assert stream is not None
        on_c = TwilioCallerSimulator(server=c.base, webhook_url=WEBHOOK_HOST, call_sid=on_a.call_sid)
        caller = await on_c.open_stream(stream)
        try:
            await caller.wait_for(caller.closed.is_set, timeout=15)  # closed: unauthorized
            assert caller.heard_ms == 0
            assert fake.connections == []  # refused before any provider was contacted
            assert (await c.health())["finished_calls"] == 0
        finally:
            await on_c.close()
