"""``patter-core demo`` completes its conversation (a tool is used, the agent hangs up), offline."""

from __future__ import annotations

import os
import subprocess
import sys
import wave

import pytest

pytest.importorskip("patter_local")

SIMULATED_CARRIER = """
from patter_core import hookimpl
from patter_core.testing import FakeCarrier, FakeCarrierSimulator

@hookimpl
def register_carriers(register):
    register(FakeCarrier, name="fake", simulator=FakeCarrierSimulator)
"""


def test_demo_completes_offline(plugin_site, tmp_path) -> None:
    carrier = None
    try:
        from patter_core.registry import Registry

        names = Registry.build().names("carrier")
        carrier = next(
            (n for n in names if Registry.build().get("carrier", n).metadata.get("simulator")), None
        )
    except Exception:
        carrier = None
    if carrier is None:  # no carrier plugin with a simulator installed: use the core's fake carrier
        plugin_site.add("patter-simfake", "patter_simfake_hooks", SIMULATED_CARRIER)
        carrier = "fake"
    env = dict(os.environ, PYTHONPATH=str(plugin_site.root), PATTER_TUNNEL_VERIFY="0")
    recording = tmp_path / "demo.wav"
    result = subprocess.run(
        [sys.executable, "-m", "patter_core.cli", "demo", "--carrier", carrier, "--record", str(recording)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "tool book_appointment(" in out and "hang-up" in out
    assert "latency per turn" in out and "recording (stereo" in out
    with wave.open(str(recording)) as wav:
        assert wav.getnchannels() == 2 and wav.getnframes() > wav.getframerate() * 10
