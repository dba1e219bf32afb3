"""Memory per live call and memory growth over many sequential calls (session loop, in process).

* RSS per live call: N engine-mode calls held open at once, each streaming caller audio in and
  agent audio out through the real session loop (player, pacer, tracker, converters, record);
  (RSS with N calls - RSS before) / N.
* Growth: 5,000 short sequential calls (greeting, a caller frame, a tool call, hang-up); RSS after
  a warm-up of 200 calls vs after all of them. A leak of even 1 KB per call shows as ~5 MB.

Run: ``python bench/memory.py [--live 200] [--sequential 5000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import time

from patter_core.agent import Agent
from patter_core.audio import MULAW_8K
from patter_core.testing import FakeChannel, FakeEngine, start_call, voice
from patter_core.tools import tool


@tool
async def lookup(q: str) -> str:
    """Look something up."""
    return f"result for {q}"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


async def live_calls(n: int) -> float:
    engine = FakeEngine()
    gc.collect()
    before = rss_mb()
    calls = []
    for i in range(n):
        channel = FakeChannel()
        channel.call.call_id = f"CAlive{i}"
        calls.append(
            (
                channel,
                start_call(Agent(system_prompt="bench", engine=engine, first_message="Hello there"), channel),
            )
        )
    await asyncio.sleep(0.5)
    audio = voice(200, MULAW_8K)
    for channel, _ in calls:
        await channel.speak(audio)
    await asyncio.sleep(1.0)
    gc.collect()
    during = rss_mb()
    for channel, _ in calls:
        channel.hang_up()
    for _, call in calls:
        await call.finish()
    return (during - before) / n


async def sequential_calls(n: int, warmup: int = 200) -> tuple[float, float]:
    engine = FakeEngine()
    audio = voice(40, MULAW_8K)

    async def one(i: int) -> None:
        channel = FakeChannel(playback="manual")
        call = start_call(Agent(system_prompt="bench", engine=engine, tools=[lookup]), channel)
        await engine.connected.wait()
        engine.connected.clear()
        await channel.speak(audio)
        await engine.session.speak("Hi.")
        engine.session.call_tool("lookup", {"q": str(i)})
        await engine.session.wait_tool_result()
        channel.play(10_000)
        channel.hang_up()
        await call.finish()
        engine.sessions.clear()  # the fake keeps its sessions for inspection; the SDK must not

    for i in range(warmup):
        await one(i)
    gc.collect()
    start = rss_mb()
    for i in range(n):
        await one(i)
    gc.collect()
    return start, rss_mb()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--live", type=int, default=200)
    parser.add_argument("--sequential", type=int, default=5000)
    parser.add_argument(
        "--quick", action="store_true", help="50 live, 500 sequential (nox -s bench -- --quick)"
    )
    args = parser.parse_args()
    if args.quick:
        args.live, args.sequential = 50, 500
    t0 = time.perf_counter()
    per_call = await live_calls(args.live)
    start, end = await sequential_calls(args.sequential)
    print("| measurement | value |")
    print("|---|---|")
    print(f"| RSS per live call ({args.live} concurrent engine calls) | {per_call * 1024:.0f} KB |")
    print(
        f"| RSS growth over {args.sequential} sequential calls (after 200 warm-up) | {end - start:+.2f} MB |"
    )
    print(
        f"\n({time.perf_counter() - t0:.0f} s; `python bench/memory.py --live {args.live} --sequential {args.sequential}`)"
    )


if __name__ == "__main__":
    asyncio.run(main())
