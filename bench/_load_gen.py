"""The load side of ``bench/load.py``: the engine fake and N simulated Twilio phone lines, in one process.

* The engine fake is :class:`patter_openai.testing.FakeRealtimeServer` (GA protocol), streaming each
  call's reply -- a continuous tone of ``D`` seconds with transcript words -- at real-time pace in
  100 ms audio deltas.
* Each call: Twilio's signed voice webhook (patter mode), then a :class:`_load_lines.Line` on the
  TwiML's ``<Stream>`` (what it does and how lateness, transit and barge-in are measured: see there).
* The instruments: lines and the fake share this process and its clock; its garbage collector is off
  during a step (a collection would stall every line at once). Other processes' CPU, the server's
  CPU and RSS are read from ``/proc`` at the window's edges.

Commands arrive as JSON lines on stdin (``{"cmd": "step", ...}``); results leave as JSON lines on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import signal
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from _load_lines import FRAME_S, LINES, Line, Step, Ticker, instrument_fake, pct
from _ws import open_websocket
from patter_openai.testing import FakeRealtimeServer, FakeReply
from patter_twilio.signature import compute_signature
from patter_twilio.testing.simulator import TwilioCallerSimulator, parse_stream_twiml

WORDS = " ".join(["word"] * 40)
_TICKS = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def proc_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def others_cpu_s(exclude: set[int]) -> dict[int, float]:
    """CPU seconds used so far by every other process on the machine (from ``/proc/<pid>/stat``)."""
    used = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in exclude:
            continue
        try:
            used[int(entry)] = proc_cpu_s(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return used


def self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class LoadGen:
    def __init__(self, fake: FakeRealtimeServer) -> None:
        self.fake = fake
        self.http: httpx.AsyncClient | None = None
        self.ticker = Ticker()
        rng = random.Random(7)
        self.payloads = [bytes(rng.randrange(0xE0, 0x100) for _ in range(148)) for _ in range(50)]

    async def call(
        self, step: Step, target: str, host: str, port: int, *, expected: int, timeout: float
    ) -> Line | None:
        call_sid = "CA" + os.urandom(16).hex()
        stream_sid = "MZ" + os.urandom(16).hex()
        try:
            if target == "patter":
                sim = TwilioCallerSimulator(
                    server=f"http://{host}:{port}",
                    webhook_url="agent.bench",
                    auth_token="bench-auth-token-0123456789",
                    call_sid=call_sid,
                )
                fields = sim.form()
                voice_url = "https://agent.bench/webhooks/twilio/voice"
                signature = compute_signature(voice_url, fields, sim.auth_token)
                assert self.http is not None
                response = await self.http.post(
                    f"http://{host}:{port}/webhooks/twilio/voice",
                    content=urlencode(fields),
                    headers={
                        "X-Twilio-Signature": signature,
                        "Content-Type": "application/x-www-form-urlencoded",
                    },
                )
                if response.status_code != 200:
                    step.failures.append(f"webhook {response.status_code}")
                    return None
                stream = parse_stream_twiml(response.text)
                assert stream is not None
                path = urlsplit(stream.url).path
                parameters = stream.parameters
                headers = {"X-Twilio-Signature": compute_signature(stream.url, None, sim.auth_token)}
            else:
                path, parameters, headers = f"/ws/stream/{call_sid}", {}, {}
            line = Line(
                step,
                call_sid=call_sid,
                stream_sid=stream_sid,
                parameters=parameters,
                expected=expected,
                payloads=self.payloads,
                ticker=self.ticker,
            )
            await asyncio.wait_for(open_websocket(line, host, port, path, headers), 10)
        except Exception as exc:
            step.failures.append(f"connect: {type(exc).__name__}: {exc}"[:200])
            return None
        line.begin()
        try:
            await asyncio.wait_for(asyncio.shield(line.done), timeout)
        except TimeoutError:
            line.hang_up()
        with_close = asyncio.ensure_future(asyncio.wait_for(asyncio.shield(line.closed), 5))
        try:
            await with_close
        except (TimeoutError, Exception):
            pass
        line.close()
        return line

    async def churn(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Many short calls one after another (``concurrency`` at a time) on the real server: does
        anything per call stay behind? Server RSS and open file descriptors after a warm-up and at the
        end, and ``/health``'s active calls once all have hung up."""
        n, warmup, concurrency = int(cmd["n"]), int(cmd["warmup"]), int(cmd.get("concurrency", 8))
        host, port, pid, target = cmd["host"], int(cmd["port"]), int(cmd["pid"]), cmd["target"]
        self.fake.pace, self.fake.chunk_ms = 0.0, 100
        self.fake.reply_factory = lambda conn, instructions: FakeReply(text="Hi.", audio_ms=200)
        step = Step(n, 0.0, 0.0)
        counts = {"ok": 0, "incomplete": 0}
        marks: dict[str, float] = {}

        async def one(i: int) -> None:
            line = await self.call(step, target, host, port, expected=10, timeout=10)
            if line is not None:
                counts["ok" if line.received >= 10 else "incomplete"] += 1
            LINES.clear()
            self.fake.connections.clear()

        async def run(count: int) -> None:
            queue = iter(range(count))

            async def worker() -> None:
                for i in queue:
                    await one(i)

            await asyncio.gather(*(worker() for _ in range(concurrency)))

        t0 = time.monotonic()
        await run(warmup)
        await asyncio.sleep(1.0)
        marks["rss0"], marks["fds0"] = proc_rss_mb(pid), len(os.listdir(f"/proc/{pid}/fd"))
        tracing = bool(os.environ.get("PATTER_LOAD_TRACEMALLOC"))
        if tracing:
            os.kill(pid, signal.SIGUSR1)
            await asyncio.sleep(2.0)
        await run(n)
        elapsed = time.monotonic() - t0
        await asyncio.sleep(1.0)
        marks["rss1"], marks["fds1"] = proc_rss_mb(pid), len(os.listdir(f"/proc/{pid}/fd"))
        if tracing:
            os.kill(pid, signal.SIGUSR2)
            await asyncio.sleep(3.0)
        assert self.http is not None
        health = (await self.http.get(f"http://{host}:{port}/health")).json() if target == "patter" else {}
        self.fake.pace = 1.0
        self.fake.server_events.clear()
        self.fake.client_events.clear()
        return {
            "target": target,
            "calls": warmup + n,
            "warmup": warmup,
            "measured": n,
            "ok": counts["ok"],
            "incomplete": counts["incomplete"],
            "failed": len(step.failures),
            "failures": step.failures[:5],
            "seconds": elapsed,
            "rss_after_warmup_mb": marks["rss0"],
            "rss_end_mb": marks["rss1"],
            "rss_growth_mb": marks["rss1"] - marks["rss0"],
            "fds_after_warmup": marks["fds0"],
            "fds_end": marks["fds1"],
            "active_calls_end": health.get("active_calls"),
            "finished_calls_end": health.get("finished_calls"),
        }

    async def step(self, cmd: dict[str, Any]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        n, target = int(cmd["n"]), cmd["target"]
        host, port, pid = cmd["host"], int(cmd["port"]), int(cmd["pid"])
        ramp_s = float(cmd.get("ramp_s", max(1.0, n / float(cmd.get("ramp_rate", 25)))))
        settle_s = float(cmd.get("settle_s", 2.0))
        window_s = float(cmd["window_s"])
        reply_s = ramp_s + settle_s + window_s + 2.0
        expected = round(reply_s / FRAME_S)
        self.fake.reply_factory = lambda conn, instructions: FakeReply(text=WORDS, audio_ms=reply_s * 1000)
        self.fake.connections.clear()
        self.fake.client_events.clear()
        self.fake.server_events.clear()
        t_start = loop.time() + 0.1
        w0, w1 = t_start + ramp_s + settle_s, t_start + ramp_s + settle_s + window_s  # loop clock
        to_mono = time.monotonic() - loop.time()
        step = Step(n, w0 + to_mono, w1 + to_mono)  # arrivals are stamped with time.monotonic()
        samples: dict[str, float] = {}
        others: dict[str, dict[int, float]] = {}

        def sample(tag: str) -> None:
            samples[f"{tag}_server_cpu"] = proc_cpu_s(pid)
            samples[f"{tag}_self_cpu"] = self_cpu_s()
            samples[f"{tag}_wall"] = time.monotonic()
            samples[f"{tag}_rss"] = proc_rss_mb(pid)
            others[tag] = others_cpu_s({pid, os.getpid(), os.getppid()})

        samples["before_rss"] = proc_rss_mb(pid)
        if target == "patter":  # barge-in probe: mid-window, the engine hears some callers start speaking
            probe = random.Random(n + 1)

            def barge_in() -> None:
                live = [line for line in list(LINES.values()) if line.conn is not None and line.is_open]
                for line in probe.sample(live, k=min(len(live), max(1, min(20, n // 10)))):
                    loop.call_later(probe.random(), line.barge)

            loop.call_at((w0 + w1) / 2, barge_in)
        loop.call_at(w0, sample, "w0")
        loop.call_at(w1, sample, "w1")
        loop.call_at((w0 + w1) / 2, lambda: samples.__setitem__("mid_rss", proc_rss_mb(pid)))

        # Each call starts at a random phase of the 100 ms delta cycle (and so of the 20 ms frame grid):
        # evenly spaced starts would make every call's frames and deltas fall on the same instants.
        phases = random.Random(n).sample(range(100), k=100)

        async def launch(i: int) -> Line | None:
            start = t_start + i * ramp_s / n + phases[i % 100] / 1000 + (i // 100) * 0.0003
            await asyncio.sleep(max(0.0, start - loop.time()))
            return await self.call(step, target, host, port, expected=expected, timeout=reply_s + ramp_s + 15)

        if os.environ.get("PATTER_LOAD_DIAGNOSE"):
            print(
                f"step {n}: start {t_start + to_mono:.2f} window {step.w0:.2f}-{step.w1:.2f}", file=sys.stderr
            )
        lines = await asyncio.gather(*(launch(i) for i in range(n)))
        ok = [line for line in lines if line is not None]
        LINES.clear()
        received = sum(min(line.received, line.expected) for line in ok)
        dropped = sum(max(0, line.expected - line.received) for line in ok) + expected * (n - len(ok))
        in_frames = sum(conn.caller.input_ms for conn in self.fake.connections) / 20
        window_wall = samples.get("w1_wall", 0) - samples.get("w0_wall", 0)
        server_cpu = samples.get("w1_server_cpu", 0) - samples.get("w0_server_cpu", 0)
        gen_cpu = samples.get("w1_self_cpu", 0) - samples.get("w0_self_cpu", 0)
        lat = step.lat
        before, after = others.get("w0", {}), others.get("w1", {})
        other = sum(
            after[p] - before.get(p, 0.0) for p in after
        )  # (processes started in the window count whole)
        return {
            "target": target,
            "n": n,
            "calls_ok": len(ok),
            "failures": step.failures[:5],
            "failed": len(step.failures),
            "frames_expected": expected * n,
            "frames_received": received,
            "dropped": dropped,
            "window_frames": len(lat),
            "p50_ms": pct(lat, 0.50) * 1000,
            "p99_ms": pct(lat, 0.99) * 1000,
            "max_ms": max(lat, default=float("nan")) * 1000,
            "late": sum(1 for x in lat if x > 0.020),
            "heard_p99_ms": pct(step.heard, 0.99) * 1000,
            "heard_max_ms": max(step.heard, default=float("nan")) * 1000,
            "gaps": step.gaps,
            "transit_n": len(step.transit),
            "transit_p50_ms": pct(step.transit, 0.50) * 1000,
            "transit_p99_ms": pct(step.transit, 0.99) * 1000,
            "transit_max_ms": max(step.transit, default=float("nan")) * 1000,
            "inbound_n": len(step.inbound),
            "inbound_p50_ms": pct(step.inbound, 0.50) * 1000,
            "inbound_p99_ms": pct(step.inbound, 0.99) * 1000,
            "barge_n": len(step.barge),
            "barge_p50_ms": pct(step.barge, 0.50) * 1000,
            "barge_max_ms": max(step.barge, default=float("nan")) * 1000,
            "first_audio_p50_ms": pct(step.first_audio, 0.5) * 1000,
            "first_audio_p99_ms": pct(step.first_audio, 0.99) * 1000,
            "server_cpu_pct": 100 * server_cpu / window_wall if window_wall else float("nan"),
            "server_cpu_ms_per_call_s": 1000 * server_cpu / (window_wall * n)
            if window_wall
            else float("nan"),
            "gen_cpu_pct": 100 * gen_cpu / window_wall if window_wall else float("nan"),
            "other_cpu_pct": 100 * other / window_wall if window_wall else float("nan"),
            "server_rss_mb": samples.get("mid_rss", float("nan")),
            "server_rss_before_mb": samples["before_rss"],
            "marks_echoed": step.marks_echoed,
            "inbound_frames_sent": step.frames_sent,
            "inbound_frames_at_engine": in_frames,
            "unexpected": step.unexpected[:5],
        }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--validate", action="store_true", help="the fake validates every client event")
    args = parser.parse_args()
    fake = FakeRealtimeServer(pace=1.0, chunk_ms=100, keep_input_audio=False, record_audio_events=False)
    if not args.validate and hasattr(fake, "validate"):
        fake.validate = False
    instrument_fake()
    await fake.start()
    if os.environ.get("PATTER_LOAD_DIAGNOSE"):
        sys.path.insert(0, os.path.dirname(__file__))
        from _load_server import _diagnose

        _diagnose("loadgen ")
    gen = LoadGen(fake)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        gen.http = http
        print(json.dumps({"engine_url": fake.base_url, "pid": os.getpid()}), flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            raw = await reader.readline()
            if not raw:
                break
            cmd = json.loads(raw)
            if cmd["cmd"] == "quit":
                break
            # The generator is the measuring instrument: a collection of its (many) objects would stall
            # every line at once and show up as late frames that the server did not cause.
            gc.collect()
            gc.freeze()
            gc.disable()
            try:
                result = await (gen.churn(cmd) if cmd["cmd"] == "churn" else gen.step(cmd))
            finally:
                gc.enable()
                gc.unfreeze()
                gc.collect()
            print(json.dumps(result), flush=True)
    await fake.stop()


def _run(main_coro: Callable[[], Any]) -> None:
    try:
        import uvloop

        factory: Any = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main_coro())


if __name__ == "__main__":
    _run(main)
