"""SDK-added latency per turn and barge-in reaction time, with zero-latency provider fakes.

What is measured (in one process, on the real session loop, with the core's fakes answering at once):

* pipeline turn: the VAD declares the end of the caller's speech -> the first agent frame is handed
  to the carrier (STT final, LLM first token, sentence, TTS first chunk, conversion, framing,
  pacing) -- everything in between is Patter, since the fakes take ~0 ms;
* engine turn: the engine reports the caller stopped and starts streaming audio -> first frame out;
* barge-in: the caller frame that completes ``barge_in_threshold_ms`` of speech arrives (pipeline),
  or the engine's speech-started event arrives (engine) -> ``clear`` is sent to the carrier.

Run: ``python bench/latency.py [--turns 200]``. Prints a markdown table (p50 / p99 / max in ms).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from patter_core.agent import Agent
from patter_core.audio import MULAW_8K
from patter_core.interfaces.engine import CallerSpeechStopped
from patter_core.session.call import SessionOptions
from patter_core.testing import (
    FakeChannel,
    FakeEngine,
    FakeLLM,
    FakeSTT,
    FakeTTS,
    FakeVAD,
    silence,
    start_call,
    voice,
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class TimedChannel(FakeChannel):
    """Stamps the first media frame and each clear with the loop clock."""

    def __init__(self) -> None:
        super().__init__(playback="manual")
        self.first_frame_at: float | None = None
        self.clear_at: float | None = None

    async def send_audio(self, frame: bytes) -> None:
        if self.first_frame_at is None:
            self.first_frame_at = asyncio.get_running_loop().time()
        await super().send_audio(frame)

    async def clear(self) -> None:
        self.clear_at = asyncio.get_running_loop().time()
        await super().clear()


async def pipeline_turns(turns: int) -> tuple[list[float], list[float]]:
    added, barge = [], []
    for _ in range(turns):
        stt = FakeSTT(["hello there"])
        llm = FakeLLM([["Hi! How can I help you today?"]])
        agent = Agent(
            system_prompt="bench", stt=stt, llm=llm, tts=FakeTTS(ms_per_word=60), vad=FakeVAD(end_ms=200)
        )
        channel = TimedChannel()
        call = start_call(agent, channel, options=SessionOptions())
        await channel.speak(voice(300, MULAW_8K) + silence(220, MULAW_8K))
        await channel.wait_for(lambda ch=channel: ch.first_frame_at is not None)
        turn = call.session.record.turns[-1] if call.session.record.turns else None
        metrics = call.session.mode._turn_metrics if turn is None else turn
        assert metrics is not None and metrics.vad_end_at is not None and channel.first_frame_at is not None
        added.append((channel.first_frame_at - metrics.vad_end_at) * 1000)
        # barge-in: speak over the reply; time from the threshold-completing frame to clear
        loop = asyncio.get_running_loop()
        frames = voice(400, MULAW_8K)
        sent_at = 0.0
        for i in range(0, len(frames), 160):
            sent_at = loop.time()
            await channel.speak(frames[i : i + 160])
            if channel.clear_at is not None:
                barge.append((channel.clear_at - sent_at) * 1000)  # the frame that crossed the threshold
                break
        channel.hang_up()
        await call.finish()
    return added, barge


async def engine_turns(turns: int) -> tuple[list[float], list[float]]:
    added, barge = [], []
    engine = FakeEngine()
    for _ in range(turns):
        channel = TimedChannel()
        call = start_call(Agent(system_prompt="bench", engine=engine), channel)
        await engine.connected.wait()
        session = engine.session
        loop = asyncio.get_running_loop()
        stopped_at = loop.time()
        session.emit(CallerSpeechStopped())
        await session.speak("Sure, one moment please.")
        await channel.wait_for(lambda ch=channel: ch.first_frame_at is not None)
        added.append((channel.first_frame_at - stopped_at) * 1000)
        started_at = loop.time()
        session.caller_starts()
        await channel.wait_for(lambda ch=channel: ch.clear_at is not None)
        barge.append((channel.clear_at - started_at) * 1000)
        channel.hang_up()
        await call.finish()
        engine.connected.clear()
    return added, barge


def row(name: str, values: list[float]) -> str:
    return f"| {name} | {len(values)} | {statistics.median(values):.2f} | {pct(values, 0.99):.2f} | {max(values):.2f} |"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="20 turns (nox -s bench -- --quick)")
    args = parser.parse_args()
    if args.quick:
        args.turns = 20
    t0 = time.perf_counter()
    p_added, p_barge = await pipeline_turns(args.turns)
    e_added, e_barge = await engine_turns(args.turns)
    print("| measurement | n | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    print(row("pipeline: VAD end of speech -> first agent frame out (SDK-added)", p_added))
    print(row("engine: caller stopped + audio starts -> first agent frame out", e_added))
    print(row("pipeline barge-in: threshold reached -> clear sent", p_barge))
    print(row("engine barge-in: speech_started -> clear sent", e_barge))
    print(f"\n({time.perf_counter() - t0:.1f} s; `python bench/latency.py --turns {args.turns}`)")


if __name__ == "__main__":
    asyncio.run(main())
