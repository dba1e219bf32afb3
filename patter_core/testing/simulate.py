"""Test your agent with a simulated phone call: offline, over a carrier's real protocol.

::

    from patter_core.testing import simulate_call

    async def test_booking():
        agent = phone.agent(system_prompt="You book haircuts.", tools=[book], stt="local", llm="local", tts="local")
        result = await simulate_call(agent, ["Hi, I'd like a haircut", "Tuesday at 3 pm", "Bye"])
        assert result.record.events_of("tool_call")[0].data["name"] == "book"
        assert result.hung_up_by_agent

The caller's lines are synthesised with a caller voice (text), read from WAV files (``Path``), or sent
as raw audio in the carrier's wire format (``bytes``). The caller waits for the agent to answer each
line before saying the next, and hangs up after the script unless the agent does first. Everything
runs on this machine: a real server on a loopback port, the carrier's simulator, your agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import wave
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from patter_core.agent import Agent, OnMessage
from patter_core.audio import Converter, from_pcm16, resample_offline
from patter_core.audio.format import AudioFormat
from patter_core.interfaces.tts import TTS
from patter_core.registry import Registry, default_registry
from patter_core.session.call import SessionOptions
from patter_core.session.record import CallRecord
from patter_core.testing.caller import SimulatedCaller
from patter_core.testing.simulation import load_simulator

__all__ = ["SimulationResult", "caller_voice", "simulate_call", "speak_text"]

Line = str | bytes | Path
EventPrinter = Callable[[str, dict[str, Any]], None]


@attrs.frozen
class SimulationResult:
    record: CallRecord
    heard: bytes
    """What the caller heard of the agent, in :attr:`format`."""
    format: AudioFormat
    carrier: str
    hung_up_by_agent: bool

    @property
    def transcript(self) -> list[tuple[str, str]]:
        return [(t.role, t.text) for t in self.record.transcript]

    @property
    def tool_calls(self) -> list[str]:
        return [e.data["name"] for e in self.record.events_of("tool_call")]


def caller_voice(registry: Registry | None = None) -> TTS:
    """The default TTS provider in its caller voice (a plugin registers ``caller_options=``)."""
    registry = registry or default_registry()
    entry = registry.default("tts")
    if entry is None:
        raise LookupError(
            "no default TTS is installed to voice the caller: pass caller_tts= (or install patter-local)"
        )
    return entry.create(**dict(entry.metadata.get("caller_options", {})))  # type: ignore[no-any-return]


async def _line_audio(line: Line, tts: TTS | None, wire: AudioFormat) -> bytes:
    if isinstance(line, bytes):
        return line
    if isinstance(line, Path):
        with wave.open(str(line), "rb") as wav:
            if wav.getsampwidth() != 2:
                raise ValueError(f"{line}: only 16-bit PCM WAV files are supported")
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
            if wav.getnchannels() > 1:
                pcm = pcm.reshape(-1, wav.getnchannels()).mean(axis=1).astype(np.int16)
            rate = wav.getframerate()
        return from_pcm16(resample_offline(pcm, rate, wire.sample_rate), wire)
    if tts is None:
        raise ValueError("text lines need a caller voice (caller_tts=)")
    return await speak_text(tts, line, wire)


async def speak_text(tts: TTS, text: str, wire: AudioFormat) -> bytes:
    """``text`` spoken by ``tts`` (e.g. :func:`caller_voice`), converted to the call's ``wire`` format:
    what a simulated caller says."""
    session = await tts.open_session(tts.capabilities.output_formats[0])
    try:
        converter = Converter(session.format, wire)
        audio = b"".join([converter.convert(chunk) async for chunk in session.synthesize(text)])
        return audio + converter.flush()
    finally:
        await session.aclose()


async def _wait_reply(caller: SimulatedCaller, before: int, *, start_timeout: float, quiet_ms: float) -> None:
    """Wait for the agent to start answering (new audio), then to finish (silence) -- or for a hang-up."""
    with contextlib.suppress(TimeoutError):
        await caller.wait_for(
            lambda: len(caller.heard) > before or caller.closed.is_set(), timeout=start_timeout
        )
    if not caller.closed.is_set():
        with contextlib.suppress(TimeoutError):
            await caller.wait_silence(quiet_ms=quiet_ms, timeout=60)


async def simulate_call(
    agent: Agent,
    script: Sequence[Line],
    *,
    carrier: str | None = None,
    caller_tts: TTS | None = None,
    on_message: OnMessage | None = None,
    registry: Registry | None = None,
    realtime: bool = True,
    reply_timeout_s: float = 15.0,
    end_of_reply_ms: float = 800.0,
    hangup_timeout_s: float = 20.0,
    recording_path: str | None = None,
    on_event: EventPrinter | None = None,
    caller_number: str = "+15550001111",
) -> SimulationResult:
    """Run one simulated call of ``script`` against ``agent``; see the module docstring."""
    registry = registry or default_registry()
    from patter_core.phone import Patter

    carrier_name, simulator_class = load_simulator(registry, carrier)
    if caller_tts is None and any(isinstance(line, str) for line in script):
        caller_tts = caller_voice(registry)
    records: list[CallRecord] = []
    async with simulator_class(webhook_host="simulated.patter.test") as simulator:
        phone = Patter(
            carrier=simulator.carrier,
            phone_number="+15550002222",
            webhook_url=simulator.webhook_host,
            registry=registry,
        )
        options = SessionOptions(recording_path=recording_path, record_sink=on_event)
        serving = asyncio.create_task(
            phone.serve(
                agent,
                host="127.0.0.1",
                port=0,
                on_message=on_message,
                on_call_end=records.append,
                session_options=options,
            ),
            name="patter-simulated-server",
        )
        try:
            await phone.wait_ready(timeout=30)
            wire = simulator.carrier.wire_format
            caller = await simulator.call(
                f"http://127.0.0.1:{phone.port}", caller=caller_number, realtime=realtime
            )
            await _wait_reply(caller, 0, start_timeout=reply_timeout_s, quiet_ms=end_of_reply_ms)
            for line in script:
                if caller.closed.is_set():
                    break
                audio = await _line_audio(line, caller_tts, wire)
                before = len(caller.heard)
                await caller.say(audio)
                await caller.silence(100)
                await _wait_reply(caller, before, start_timeout=reply_timeout_s, quiet_ms=end_of_reply_ms)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(caller.closed.wait(), hangup_timeout_s)
            hung_up_by_agent = caller.closed.is_set()
            if not hung_up_by_agent:
                await caller.hang_up()
            for _ in range(200):
                if records:
                    break
                await asyncio.sleep(0.05)
        finally:
            await phone.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(serving, 20)
    if not records:
        raise RuntimeError("the simulated call produced no record (the server did not start the call)")
    return SimulationResult(
        record=records[0],
        heard=bytes(caller.heard),
        format=wire,
        carrier=carrier_name,
        hung_up_by_agent=hung_up_by_agent,
    )


async def warm_up(agent: Agent, *extra: Any) -> None:
    """Load the agent's providers' models now (providers with a ``warm_up()`` method), off the loop."""
    for provider in (agent.vad, agent.stt, agent.tts, agent.llm, agent.engine, *extra):
        method = getattr(provider, "warm_up", None)
        if method is None:
            continue
        result = (
            await asyncio.to_thread(method) if not inspect.iscoroutinefunction(method) else await method()
        )
        if inspect.isawaitable(result):
            await result
