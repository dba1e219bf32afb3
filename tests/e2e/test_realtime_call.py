"""The hello world on the OpenAI Realtime engine, end to end: a carrier simulator on the real server,
the GA Realtime fake answering. Parametrised over every installed carrier that ships a simulator
(the core's fake carrier is always there)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from patter_core.audio import MULAW_8K
from patter_core.hookspecs import hookimpl
from patter_core.phone import Patter
from patter_core.plugins import make_plugin_manager
from patter_core.registry import Registry
from patter_core.session.record import CallRecord
from patter_core.testing import FakeCarrier, FakeCarrierSimulator, SimulatedCaller, load_simulator, voice
from patter_core.tools import tool

openai = pytest.importorskip("patter_openai")
from patter_openai import OpenAIRealtime  # noqa: E402
from patter_openai.testing import FakeRealtimeServer, FakeReply, FakeToolCall  # noqa: E402


class SimulatedFakeCarrier:
    @hookimpl
    def register_carriers(self, register):
        register(FakeCarrier, name="fake", simulator=FakeCarrierSimulator)


def _registry() -> Registry:
    return Registry(make_plugin_manager(extra_plugins=[("sim", SimulatedFakeCarrier())]))


def _carriers() -> list[str]:
    registry = _registry()
    return [n for n in registry.names("carrier") if registry.get("carrier", n).metadata.get("simulator")]


@tool
async def opening_hours(day: str) -> str:
    """Opening hours for a day.

    Args:
        day: The day of the week.
    """
    return f"On {day} we are open from 9 to 5."


class Call:
    def __init__(
        self,
        fake: FakeRealtimeServer,
        caller: SimulatedCaller,
        phone: Patter,
        records: list[CallRecord],
        carrier: object,
    ) -> None:
        self.fake, self.caller, self.phone, self.records, self.carrier = fake, caller, phone, records, carrier


@pytest.fixture(params=_carriers())
async def call(request: pytest.FixtureRequest) -> AsyncIterator[Call]:
    registry = _registry()
    honour = getattr(request, "param_honour_pcmu", True)
    async with FakeRealtimeServer(pace=1.0, honour_pcmu=honour) as fake:
        _, simulator_class = load_simulator(registry, request.param)
        async with simulator_class(webhook_host="agent.example.test") as simulator:
            phone = Patter(
                carrier=simulator.carrier,
                phone_number="+15550002222",
                webhook_url=simulator.webhook_host,
                registry=registry,
            )
            # the 4-line hello world, pointed at the fake service
            agent = phone.agent(
                system_prompt="You are a friendly receptionist.",
                engine=OpenAIRealtime(api_key="sk-test", base_url=fake.base_url),
                first_message="Hello, thanks for calling Bella Hair Salon.",
                tools=[opening_hours],
            )
            records: list[CallRecord] = []
            serving = asyncio.create_task(
                phone.serve(agent, host="127.0.0.1", port=0, on_call_end=records.append)
            )
            await phone.wait_ready()
            caller = await simulator.call(f"http://127.0.0.1:{phone.port}")
            try:
                yield Call(fake, caller, phone, records, simulator.carrier)
            finally:
                await caller.close()
                await phone.stop()
                await asyncio.wait_for(serving, 20)
        assert fake.invalid_events == []  # every client event the plugin sent was valid GA


async def _quiet(caller: SimulatedCaller) -> None:
    await caller.wait_for(lambda: caller.heard_ms > 0)
    await caller.wait_silence(quiet_ms=300)


async def test_greeting_and_caller_audio_in_the_declared_format(call: Call) -> None:
    await _quiet(call.caller)
    wire = call.carrier.wire_format
    assert call.caller.heard_ms >= 300
    assert set(call.caller.frame_sizes) == {wire.frame_bytes()}  # exact 20 ms frames of the wire format
    conn = call.fake.connection
    speech = voice(400, wire)
    received = len(conn.audio_in)
    await call.caller.say(speech)
    if wire == MULAW_8K:
        assert conn.session["audio"]["input"]["format"]["type"] == "audio/pcmu"  # passthrough negotiated
        # the caller's mu-law bytes reach the service untouched (between the line's silence frames)
        await call.caller.wait_for(lambda: speech in bytes(conn.audio_in), timeout=5)
    else:  # the service speaks PCM16 24 kHz: converted once, 20 ms in -> 20 ms out
        assert conn.session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
        await call.caller.wait_for(lambda: len(conn.audio_in) >= received + 400 * 48, timeout=5)


async def test_barge_in_clears_and_truncates_at_the_acknowledged_playback(call: Call) -> None:
    caller, fake = call.caller, call.fake
    await _quiet(caller)
    fake.script(FakeReply(text="Let me tell you all about our many services in great detail.", audio_ms=4000))
    before = caller.heard_ms
    await fake.caller_turn("tell me about your services")
    await caller.wait_for(lambda: caller.heard_ms >= before + 900, timeout=10)
    item_heard_at_barge = caller.heard_ms - before
    await fake.speech_started()
    await caller.wait_for(lambda: caller.clears == 1, timeout=5)
    truncations = await fake.wait_for("conversation.item.truncate", timeout=5)
    audio_end_ms = truncations[-1]["audio_end_ms"]
    # acknowledged marks trail what was heard by at most one mark interval (100 ms) and a frame
    assert item_heard_at_barge - 140 <= audio_end_ms <= caller.heard_ms - before
    assert audio_end_ms % 20 == 0


async def test_tool_call_round_trip(call: Call) -> None:
    caller, fake = call.caller, call.fake
    await _quiet(caller)
    fake.script(
        FakeReply(text="Let me check.", tool_calls=[FakeToolCall("opening_hours", '{"day": "Monday"}')]),
        FakeReply(text="We open at nine on Monday."),
    )
    await fake.caller_turn("when do you open on monday")
    outputs = await fake.wait_for("conversation.item.create", timeout=10)
    assert outputs[-1]["item"]["type"] == "function_call_output"
    assert outputs[-1]["item"]["output"] == "On Monday we are open from 9 to 5."
    output_at = fake.client_events.index(outputs[-1])
    for _ in range(200):  # then the model is asked to speak about the result
        if any(e.get("type") == "response.create" for e in fake.client_events[output_at:]):
            break
        await asyncio.sleep(0.05)
    assert any(e.get("type") == "response.create" for e in fake.client_events[output_at:])
    heard = caller.heard_ms
    await caller.wait_for(lambda: caller.heard_ms > heard + 300, timeout=10)  # "We open at nine..." is heard


async def test_end_call_hangs_up_through_the_carrier(call: Call) -> None:
    caller, fake = call.caller, call.fake
    await _quiet(caller)
    fake.script(
        FakeReply(text="Goodbye!", tool_calls=[FakeToolCall("end_call", '{"reason": "caller is done"}')])
    )
    await fake.caller_turn("that's all, bye")
    await asyncio.wait_for(caller.closed.wait(), 15)
    for _ in range(100):
        if call.records:
            break
        await asyncio.sleep(0.05)
    assert call.records[0].end_reason == "agent hung up: caller is done"


async def test_a_dropped_engine_socket_recovers_or_ends_within_5_s(call: Call) -> None:
    caller, fake = call.caller, call.fake
    await _quiet(caller)
    await fake.drop()
    loop = asyncio.get_running_loop()
    started = loop.time()
    while loop.time() - started < 5 and len(fake.connections) < 2 and not caller.closed.is_set():
        await asyncio.sleep(0.05)
    assert len(fake.connections) == 2 or caller.closed.is_set()
    assert loop.time() - started < 5
    if len(fake.connections) == 2:  # recovered: the call goes on with the session restored
        await fake.wait_for("session.update", count=2, timeout=5)


@pytest.mark.parametrize("carrier", _carriers())
async def test_pcmu_fallback_to_pcm24k_when_the_service_does_not_honour_it(carrier: str) -> None:
    registry = _registry()
    async with FakeRealtimeServer(honour_pcmu=False) as fake:
        _, simulator_class = load_simulator(registry, carrier)
        async with simulator_class(webhook_host="agent.example.test") as simulator:
            phone = Patter(carrier=simulator.carrier, webhook_url=simulator.webhook_host, registry=registry)
            agent = phone.agent(
                engine=OpenAIRealtime(api_key="sk-test", base_url=fake.base_url),
                first_message="Hello there, welcome.",
            )
            serving = asyncio.create_task(phone.serve(agent, host="127.0.0.1", port=0))
            await phone.wait_ready()
            caller = await simulator.call(f"http://127.0.0.1:{phone.port}")
            try:
                await caller.wait_for(lambda: caller.heard_ms >= 400, timeout=10)
                wire = simulator.carrier.wire_format
                assert set(caller.frame_sizes) == {wire.frame_bytes()}  # converted back to the wire format
                conn = fake.connection
                assert conn.session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
                size = len(conn.audio_in)
                await caller.say(voice(200, wire))
                await caller.wait_for(
                    lambda: len(conn.audio_in) >= size + 200 * 48, timeout=5
                )  # 24 kHz PCM16
            finally:
                await caller.close()
                await phone.stop()
                await asyncio.wait_for(serving, 20)
        assert fake.invalid_events == []
