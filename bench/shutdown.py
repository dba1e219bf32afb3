"""Graceful-shutdown time of ``patter-core serve``: SIGTERM with live calls -> every call ended -> exit.

Run ``python bench/shutdown.py`` (``--calls 1,10,50 --runs 3``). For each number of calls it starts the
real CLI in a subprocess (the core's fake carrier registered as a plugin, the fake engine as the agent,
call records on), opens that many calls over the carrier's webhook and media WebSocket with audio
flowing both ways in real time, sends SIGTERM, and measures from the signal to (a) the last media
socket closed by the server and (b) the process exit. It checks that every call's JSONL record ends
with ``server shutdown`` after a ``hangup`` event carrying the shutdown message, and that the exit
status is 0. Prints a markdown table (median and worst over the runs).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

if importlib.util.find_spec("patter_core") is None:  # run from a checkout without an install
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from patter_core.session.call import SHUTDOWN_MESSAGE
from patter_core.session.record_sink import read_records, record_path
from patter_core.testing import sign_fake_webhook

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
    return phone.agent(system_prompt="hi", engine=FakeEngine(),
                       first_message="Hello, this is the shutdown benchmark. " * 20)
"""
SILENCE = base64.b64encode(b"\xff" * 160).decode()


def install_plugin(root: Path) -> None:
    (root / "bench_fake_hooks.py").write_text(PLUGIN)
    (root / "bench_shutdown_app.py").write_text(APP)
    info = root / "patter_benchfake-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: patter-benchfake\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[patter]\nbenchfake = bench_fake_hooks\n")


def start(root: Path, records: Path) -> tuple[subprocess.Popen[str], int]:
    env = dict(
        os.environ,
        PYTHONPATH=str(root),
        PATTER_CARRIER="fake",
        PATTER_WEBHOOK_URL="agent.test",
        PATTER_RECORDS_DIR=str(records),
    )
    command = [
        sys.executable,
        "-m",
        "patter_core.cli",
        "serve",
        "bench_shutdown_app:make_agent",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ]
    process = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    banner = ""
    assert process.stdout is not None
    while "/ws/fake/stream/" not in banner:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the server did not start:\n{banner}")
        banner += line
    return process, int(banner.split("127.0.0.1:")[1].split()[0])


async def open_call(client: httpx.AsyncClient, port: int, call_id: str) -> ClientConnection:
    body = json.dumps({"call_id": call_id, "from": "+15550001111", "to": "+15550002222"}).encode()
    answer = await client.post(
        f"http://127.0.0.1:{port}/webhooks/fake/voice",
        content=body,
        headers={"X-Fake-Signature": sign_fake_webhook("fake-carrier-secret", body)},
    )
    ws = await connect(f"ws://127.0.0.1:{port}/ws/fake/stream/{call_id}")
    await ws.send(json.dumps({"event": "start", "call_id": call_id, "token": answer.json()["token"]}))
    await asyncio.wait_for(ws.recv(), 10)  # the greeting is flowing
    return ws


async def line(ws: ClientConnection) -> float:
    """The caller's side until the server closes the socket: 20 ms frames in, agent audio drained."""

    async def send() -> None:
        while True:
            await ws.send(json.dumps({"event": "media", "payload": SILENCE}))
            await asyncio.sleep(0.02)

    sender = asyncio.create_task(send())
    try:
        async for _ in ws:
            pass
    except ConnectionClosed:
        pass
    finally:
        sender.cancel()
    return time.monotonic()


async def run_once(calls: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root, records = Path(tmp), Path(tmp) / "records"
        install_plugin(root)
        process, port = start(root, records)
        try:
            async with httpx.AsyncClient() as client:
                sockets = [await open_call(client, port, f"CAbench{i:03d}") for i in range(calls)]
            lines = [asyncio.create_task(line(ws)) for ws in sockets]
            await asyncio.sleep(0.5)
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            closed_at = max(await asyncio.gather(*lines))
            code = await asyncio.to_thread(process.wait, 60)
            exited = time.monotonic()
        finally:
            if process.poll() is None:
                process.kill()
        if code != 0:
            raise RuntimeError(f"exit status {code}")
        for i in range(calls):
            entries = read_records(record_path(records, f"CAbench{i:03d}"))
            hangups = [
                e["data"]["data"] for e in entries if e["kind"] == "event" and e["data"]["type"] == "hangup"
            ]
            if entries[-1]["kind"] != "end" or entries[-1]["data"]["reason"] != "server shutdown":
                raise RuntimeError(f"call {i}: record does not end with the shutdown: {entries[-1]}")
            if not hangups or hangups[-1].get("message") != SHUTDOWN_MESSAGE:
                raise RuntimeError(f"call {i}: no shutdown message in the record")
        return closed_at - signalled, exited - signalled


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="1,10,50", help="comma-separated numbers of live calls")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("| live calls | all calls ended (median / worst) | process exited (median / worst) |")
    print("|---:|---:|---:|")
    for calls in (int(c) for c in args.calls.split(",")):
        ended, exited = zip(*[await run_once(calls) for _ in range(args.runs)], strict=True)
        print(
            f"| {calls} | {statistics.median(ended):.2f} s / {max(ended):.2f} s "
            f"| {statistics.median(exited):.2f} s / {max(exited):.2f} s |",
            flush=True,
        )
    print(f"\n(`python bench/shutdown.py --calls {args.calls} --runs {args.runs}`; every record checked)")


if __name__ == "__main__":
    asyncio.run(main())
