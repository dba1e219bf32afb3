"""``patter-core demo``: a complete simulated phone call, offline, on the embedded default.

A simulated caller (real synthesised speech, in a second voice) calls a receptionist agent over a
carrier's real media-stream protocol, through the real server; the agent listens (VAD + STT),
thinks (the default LLM, which can call tools), speaks (TTS), books an appointment with a tool and
hangs up. The conversation is printed as it happens, then a per-turn latency table and the path of
the stereo recording. Exit status 0 when the conversation completed (tool used, agent hung up).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from patter_core.testing.simulate import SimulationResult

__all__ = ["DEFAULT_SCRIPT", "configure", "run"]

DEFAULT_SCRIPT = [
    "Hi, I'd like to book a haircut please.",
    "Tuesday at three pm.",
    "What time do you open on Saturday?",
    "No, that's all. Thank you, goodbye.",
]

SYSTEM_PROMPT = "You are the receptionist of Bella Hair Salon. Book appointments, answer questions, be brief."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--carrier", default=None, help="carrier whose simulator to use (default: the default carrier)"
    )
    parser.add_argument(
        "--record", default="patter-demo.wav", help="stereo WAV of the call (default patter-demo.wav)"
    )
    parser.add_argument("--script", default=None, help="a text file with the caller's lines, one per line")
    parser.add_argument("--quiet", action="store_true", help="print only the result and the latency table")


def _booking_tool() -> Any:
    from patter_core.tools import tool

    @tool
    def book_appointment(day: str, time: str) -> str:
        """Book a haircut appointment.

        Args:
            day: The day of the appointment, e.g. "Tuesday".
            time: The time of the appointment, e.g. "3 PM".
        """
        return f"Booked: haircut on {day} at {time}. Confirmation number 4217."

    return book_appointment


def _describe(kind: str, data: dict[str, Any]) -> str:
    if kind == "tool_call":
        return f"tool {data['name']}({data['arguments']})"
    if kind == "tool_result":
        return f"tool result: {data['output']}"
    if kind == "hangup":
        return f"hang-up ({data.get('reason')})"
    if kind == "transfer":
        return f"transfer to {data.get('to')}"
    return "caller barged in"


def _printer(quiet: bool, t0: float) -> Any:
    def on_event(kind: str, payload: dict[str, Any]) -> None:
        if quiet:
            return
        stamp = f"[{time.monotonic() - t0:5.1f}s]"
        if kind == "transcript":
            who = "caller" if payload["role"] == "caller" else "agent "
            cut = " (interrupted)" if payload.get("interrupted") else ""
            print(f"{stamp} {who}: {payload['text']}{cut}", flush=True)
        elif kind == "event" and payload["type"] in (
            "tool_call",
            "tool_result",
            "hangup",
            "transfer",
            "barge_in",
        ):
            print(f"{stamp}   · {_describe(payload['type'], payload['data'])}", flush=True)

    return on_event


def latency_table(result: SimulationResult) -> str:
    rows = ["turn  vad wait  stt      brain    tts first audio  total (end of speech -> first audio)"]
    rows.append("----  --------  -------  -------  ---------------  ------------------------------------")

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} ms"

    for turn in result.record.turns:
        tts = None
        if turn.first_text_at is not None and turn.first_audio_at is not None:
            tts = (turn.first_audio_at - turn.first_text_at) * 1000
        rows.append(
            f"{turn.index:<4}  {ms(turn.vad_wait_ms):>8}  {ms(turn.stt_ms):>7}  {ms(turn.brain_ms):>7}  "
            f"{ms(tts):>15}  {ms(turn.total_ms):>8}"
        )
    return "\n".join(rows)


async def _demo(args: argparse.Namespace) -> int:
    from patter_core.agent import build_agent
    from patter_core.registry import default_registry
    from patter_core.testing.simulate import simulate_call, warm_up

    registry = default_registry()
    script = args.script_lines or DEFAULT_SCRIPT
    agent = build_agent(
        registry,
        system_prompt=SYSTEM_PROMPT,
        tools=[_booking_tool()],
        first_message="Hi, thanks for calling Bella Hair Salon. How can I help you today?",
        transfer_destinations={"front desk": "+15550100000"},
    )
    names = {k: type(getattr(agent, k)).__name__ for k in ("vad", "stt", "llm", "tts") if getattr(agent, k)}
    t0 = time.monotonic()
    if not args.quiet:
        print("Patter demo: a simulated phone call, offline.", flush=True)
        print("providers: " + ", ".join(f"{k}={v}" for k, v in names.items()), flush=True)
        print("loading models...", flush=True)
    await warm_up(agent)
    if not args.quiet:
        print(f"ready in {time.monotonic() - t0:.1f} s; calling the agent\n", flush=True)
    t0 = time.monotonic()
    record_path = args.record_path
    result = await simulate_call(
        agent,
        script,
        carrier=args.carrier,
        registry=registry,
        recording_path=record_path,
        on_event=_printer(args.quiet, t0),
    )
    booked = "book_appointment" in result.tool_calls
    completed = booked and result.hung_up_by_agent
    print(
        f"\ncall over a simulated {result.carrier} line: {result.record.duration_s:.1f} s, "
        f"ended: {result.record.end_reason}",
        flush=True,
    )
    print("\nlatency per turn (end of caller speech -> first agent audio on the wire):")
    print(latency_table(result))
    print(f"\nrecording (stereo: caller left, agent right): {record_path}")
    if not completed:
        print(
            "the conversation did not complete: "
            + ("no booking" if not booked else "the agent did not hang up"),
            file=sys.stderr,
        )
    return 0 if completed else 1


def run(args: argparse.Namespace) -> int:
    args.script_lines = None
    if args.script:
        args.script_lines = [
            line.strip() for line in Path(args.script).read_text().splitlines() if line.strip()
        ]
    args.record_path = str(Path(args.record).resolve())
    return asyncio.run(_demo(args))
