"""Test helpers: in-process fakes of every interface, a fake carrier, and contract suites.

Use them to test your agent (or the core) with no vendor and no network::

    from patter_core.testing import FakeChannel, FakeEngine, run_call

    async def test_greeting():
        engine = FakeEngine()
        agent = Agent(system_prompt="...", engine=engine, first_message="Hello!")
        channel = FakeChannel()
        call = start_call(agent, channel)
        await channel.wait_for(lambda: channel.played_ms > 500)
        channel.hang_up()
        record = await call
"""

from __future__ import annotations

import asyncio
from typing import Any

from patter_core.agent import Agent, OnMessage
from patter_core.interfaces.carrier import Carrier
from patter_core.session.call import CallSession, SessionOptions
from patter_core.session.record import CallRecord
from patter_core.testing.audio import silence, voice, voice_pcm
from patter_core.testing.caller import CallerDialect, SimulatedCaller
from patter_core.testing.carrier import FakeCallerDialect, FakeCarrier, FakeDialect, sign_fake_webhook
from patter_core.testing.channel import FakeChannel
from patter_core.testing.engine import FakeEngine, FakeEngineSession
from patter_core.testing.providers import FakeLLM, FakeSTT, FakeSTTStream, FakeTTS, FakeVAD, ToolCall
from patter_core.testing.simulate import SimulationResult, caller_voice, simulate_call, speak_text, warm_up
from patter_core.testing.simulation import CarrierSimulator, FakeCarrierSimulator, load_simulator

__all__ = [
    "CallerDialect",
    "CarrierSimulator",
    "FakeCallerDialect",
    "FakeCarrier",
    "FakeCarrierSimulator",
    "FakeChannel",
    "FakeDialect",
    "FakeEngine",
    "FakeEngineSession",
    "FakeLLM",
    "FakeSTT",
    "FakeSTTStream",
    "FakeTTS",
    "FakeVAD",
    "RunningCall",
    "SimulatedCaller",
    "SimulationResult",
    "ToolCall",
    "caller_voice",
    "load_simulator",
    "sign_fake_webhook",
    "silence",
    "simulate_call",
    "speak_text",
    "start_call",
    "voice",
    "voice_pcm",
    "warm_up",
]


class RunningCall:
    """A session running in a task: ``await call`` gives its :class:`CallRecord`."""

    def __init__(self, session: CallSession) -> None:
        self.session = session
        self.task: asyncio.Task[CallRecord] = asyncio.get_running_loop().create_task(session.run())

    def __await__(self) -> Any:
        return self.task.__await__()

    async def finish(self, timeout: float = 10.0) -> CallRecord:
        return await asyncio.wait_for(asyncio.shield(self.task), timeout)


def start_call(
    agent: Agent,
    channel: FakeChannel | None = None,
    *,
    carrier: Carrier | None = None,
    on_message: OnMessage | None = None,
    options: SessionOptions | None = None,
) -> RunningCall:
    """Start a :class:`CallSession` for ``agent`` on a fake channel (in a task)."""
    channel = channel or FakeChannel()
    if isinstance(carrier, FakeCarrier):
        carrier.attach(channel)
    session = CallSession(
        agent=agent, channel=channel, carrier=carrier, on_message=on_message, options=options
    )
    return RunningCall(session)
