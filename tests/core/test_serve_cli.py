"""``patter-core serve`` against the fake carrier, in a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx

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
    return phone.agent(system_prompt="hi", engine=FakeEngine(), first_message="Hello.")
"""


def test_serve_prints_the_webhook_urls_answers_health_and_stops_on_sigterm(plugin_site, tmp_path) -> None:
    plugin_site.add("patter-fakecarrier", "patter_fakecarrier_hooks", PLUGIN)
    (plugin_site.root / "myapp.py").write_text(APP)
    (tmp_path / ".env").write_text(
        "PATTER_WEBHOOK_URL=agent.example.test\nPATTER_PHONE_NUMBER='+15550001111'\n"
    )
    env = dict(os.environ, PYTHONPATH=str(plugin_site.root), PATTER_CARRIER="fake")
    env.pop("PATTER_WEBHOOK_URL", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "patter_core.cli",
            "serve",
            "myapp:make_agent",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "/ws/fake/stream/" in line:
                break
        banner = "".join(lines)
        assert "https://agent.example.test/webhooks/fake/voice" in banner, banner + process.stderr.read()
        assert "wss://agent.example.test/ws/fake/stream/{call_id}" in banner
        port = int(banner.split("127.0.0.1:")[1].split()[0])
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
        assert health.status_code == 200 and json.loads(health.text)["status"] == "ok"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_serve_reports_configuration_errors_without_a_traceback(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "patter_core.cli", "serve", "nonexistent_module_xyz:agent"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "cannot import 'nonexistent_module_xyz'" in result.stderr and "Traceback" not in result.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_workers_share_one_port_and_stop_together(plugin_site, tmp_path) -> None:
    plugin_site.add("patter-fakecarrier", "patter_fakecarrier_hooks", PLUGIN)
    (plugin_site.root / "myapp.py").write_text(APP)
    env = dict(os.environ, PYTHONPATH=str(plugin_site.root), PATTER_CARRIER="fake")
    env.pop("PATTER_SECRET", None)
    port = _free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "patter_core.cli", "serve", "myapp:make_agent", "--workers", "2"),
            *("--host", "127.0.0.1", "--port", str(port), "--webhook-url", "agent.example.test"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        pids = set()
        deadline = time.monotonic() + 60
        while len(pids) < 2 and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            if "Patter is serving" in line:
                assert f"127.0.0.1:{port} " in line, line  # every worker on the one port
                pids.add(int(line.split("(pid ")[1].rstrip(")\n")))
        assert len(pids) == 2 and process.pid in pids
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()["status"] == "ok"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        for pid in pids - {process.pid}:  # the parent stopped its worker before exiting
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            raise AssertionError(f"worker {pid} still runs after the parent stopped")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def test_serve_workers_need_a_fixed_port(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "patter_core.cli", "serve", "x:y", "--workers", "2", "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "pass --port" in result.stderr
