"""simulate_call: a whole call with the offline default (local VAD, STT, brain, TTS) over a carrier
simulator, in real time. The caller's lines are synthesised speech, not silence."""

from __future__ import annotations

import pytest

from patter_core.hookspecs import hookimpl
from patter_core.plugins import make_plugin_manager
from patter_core.registry import Registry
from patter_core.testing import FakeCarrier, FakeCarrierSimulator, simulate_call, warm_up
from patter_core.tools import tool

pytest.importorskip("patter_local")


class SimulatedCarrierPlugin:
    @hookimpl
    def register_carriers(self, register):
        register(FakeCarrier, name="fake", simulator=FakeCarrierSimulator, default_priority=1)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(
        make_plugin_manager(
            extra_plugins=[("sim", SimulatedCarrierPlugin())], env={"PATTER_PLUGINS": "patter-local"}
        )
    )


@tool
def book_appointment(day: str, time: str) -> str:
    """Book a haircut.

    Args:
        day: The day of the appointment.
        time: The time of the appointment.
    """
    return f"Booked for {day} at {time}."


async def test_a_user_style_simulated_call(registry: Registry) -> None:
    from patter_local.testing import NetworkGuard

    with NetworkGuard() as guard:  # nothing may touch the network: the models ship in the packages
        await _user_style_call(registry)
    assert guard.blocked == []


async def _user_style_call(registry: Registry) -> None:
    from patter_core.phone import Patter

    agent = Patter(registry=registry).agent(
        system_prompt="You book haircuts.",
        tools=[book_appointment],
        first_message="Hi, thanks for calling. How can I help?",
    )
    await warm_up(agent)
    result = await simulate_call(
        agent,
        ["I'd like to book a haircut on Tuesday at three pm.", "No, that's all. Goodbye."],
        registry=registry,
    )
    assert "book_appointment" in result.tool_calls and result.hung_up_by_agent
    assert result.record.end_reason.startswith("agent hung up")
    caller_lines = result.record.text_of("caller")
    assert caller_lines and "tuesday" in caller_lines[0].lower()
    assert result.record.turns and all(t.total_ms is not None for t in result.record.turns)
