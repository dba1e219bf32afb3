"""Faults injected through the core's fakes: each has a defined outcome, and nothing outlives the call.

Outcomes (docs/reliability.md has the table):

* a provider that cannot connect, stalls while connecting, drops mid-utterance, or stalls while a
  reply is due -> the carrier speaks ``APOLOGY`` and hangs up; the record says why;
* an error event the provider survives -> recorded, the call goes on;
* in pipeline mode one lost reply is recovered from (the next turn is answered); a second in a row
  -> the apology;
* a tool that raises or hangs -> an error result for the model (within the tool timeout), call goes on;
* the caller hanging up during the connect, a tool call or a transfer, or the carrier socket closing
  without ``stop`` -> the call ends at once, the running work is cancelled and recorded.

Every test ends with the ``no_leaks`` check: no task, socket or file of the call is left. Timeouts
are set short (``connect_timeout_s``/``stall_timeout_s`` of 0.2 s) so the faults resolve quickly; no
test asserts how long anything took.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from patter_core.agent import Agent
from patter_core.audio import MULAW_8K
from patter_core.errors import ProviderConnectionError, ProviderError
from patter_core.interfaces.carrier import CallInfo, WarmTransfer
from patter_core.interfaces.engine import EngineError, ResponseStarted
from patter_core.interfaces.llm import ChatMessage, LLMChunk, ToolSpec
from patter_core.session.call import APOLOGY, SessionOptions
from patter_core.testing import (
    FakeCarrier,
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
from patter_core.tools import tool

FAST = SessionOptions(connect_timeout_s=0.2, stall_timeout_s=0.2, hangup_wait_s=1.0)


def engine_agent(engine: FakeEngine, **kw) -> Agent:  # type: ignore[no-untyped-def]
    return Agent(system_prompt="You are a test agent.", engine=engine, **kw)


def pipeline_agent(llm: FakeLLM, tts: FakeTTS | None = None, turns: int = 4) -> Agent:
    stt = FakeSTT([f"question number {i}" for i in range(turns)])
    return Agent(system_prompt="You are a test agent.", stt=stt, llm=llm, tts=tts or FakeTTS(), vad=FakeVAD())


def utterance(ms: float = 600) -> bytes:
    return voice(ms, MULAW_8K) + silence(400, MULAW_8K)


def apologised(carrier: FakeCarrier) -> bool:
    return carrier.hangups == [("CAfake", APOLOGY)]


def fatal_errors(record) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.data["message"] for e in record.events_of("error") if e.data.get("fatal")]


# -- engine mode ------------------------------------------------------------------------------------


async def test_engine_that_cannot_connect(no_leaks) -> None:
    carrier = FakeCarrier()
    record = await start_call(
        engine_agent(FakeEngine(fail_connect=True)), FakeChannel(), carrier=carrier, options=FAST
    ).finish()
    assert apologised(carrier) and record.end_reason.startswith("provider failure")
    assert fatal_errors(record)


async def test_engine_that_stalls_while_connecting(no_leaks) -> None:
    carrier = FakeCarrier()
    engine = FakeEngine(connect_delay=3600)
    record = await start_call(engine_agent(engine), FakeChannel(), carrier=carrier, options=FAST).finish()
    assert apologised(carrier)
    assert "sent nothing for 0.2 s" in record.end_reason and engine.sessions == []


async def test_caller_hangs_up_while_the_engine_connects(no_leaks) -> None:
    carrier = FakeCarrier()
    engine = FakeEngine(connect_delay=3600)
    channel = FakeChannel()
    call = start_call(
        engine_agent(engine), channel, carrier=carrier, options=SessionOptions(connect_timeout_s=3600)
    )
    await channel.speak(voice(100, MULAW_8K))
    channel.hang_up()
    record = await call.finish()
    assert record.end_reason == "caller hung up"
    assert carrier.hangups == [] and engine.sessions == []  # nothing to apologise for, nothing opened


async def test_engine_socket_dropped_mid_utterance(no_leaks) -> None:
    engine = FakeEngine()
    carrier = FakeCarrier()
    channel = FakeChannel()
    call = start_call(engine_agent(engine), channel, carrier=carrier, options=FAST)
    await engine.connected.wait()
    speaking = asyncio.create_task(engine.session.speak("one two three four five six", realtime=True))
    await channel.wait_for(lambda: channel.played_ms >= 200)
    engine.session.fail("socket dropped mid-utterance")
    record = await call.finish()
    await speaking
    assert apologised(carrier) and "socket dropped mid-utterance" in record.end_reason
    assert engine.session.closed and channel.closed


async def test_engine_error_event_is_recorded_and_the_call_goes_on(no_leaks) -> None:
    engine = FakeEngine()
    channel = FakeChannel()
    call = start_call(engine_agent(engine), channel, carrier=FakeCarrier(), options=FAST)
    await engine.connected.wait()
    engine.session.emit(EngineError("rate limited", code="rate_limit"))
    await engine.session.speak("Still here.")
    await channel.wait_for(lambda: channel.played_ms >= 200)
    channel.hang_up()
    record = await call.finish()
    assert record.end_reason == "caller hung up"
    assert [e.data["code"] for e in record.events_of("error")] == ["rate_limit"] and not fatal_errors(record)


async def test_engine_that_stalls_while_a_reply_is_due(no_leaks) -> None:
    engine = FakeEngine(speak_first_message=False)
    carrier = FakeCarrier()
    call = start_call(
        engine_agent(engine, first_message="Hello!"), FakeChannel(), carrier=carrier, options=FAST
    )
    record = await call.finish()  # the greeting never comes: the watchdog ends the call
    assert apologised(carrier) and "the engine (a reply was due)" in record.end_reason


async def test_engine_that_stalls_mid_response(no_leaks) -> None:
    engine = FakeEngine()
    carrier = FakeCarrier()
    call = start_call(engine_agent(engine), FakeChannel(), carrier=carrier, options=FAST)
    await engine.connected.wait()
    engine.session.emit(ResponseStarted("resp_1"))  # ... and then nothing
    record = await call.finish()
    assert apologised(carrier) and "the engine (a reply was due) sent nothing" in record.end_reason


async def test_a_quiet_engine_with_nothing_due_is_not_a_stall(no_leaks) -> None:
    engine = FakeEngine()
    channel = FakeChannel()
    carrier = FakeCarrier()
    call = start_call(engine_agent(engine), channel, carrier=carrier, options=FAST)
    await engine.connected.wait()
    await asyncio.sleep(FAST.stall_timeout_s * 3)  # the caller thinks; nothing is owed
    assert not call.session.ended
    channel.hang_up()
    record = await call.finish()
    assert record.end_reason == "caller hung up" and carrier.hangups == []


async def test_tool_that_raises(no_leaks) -> None:
    @tool
    async def book(day: str) -> str:
        """Book."""
        raise RuntimeError("calendar is down")

    engine = FakeEngine()
    channel = FakeChannel()
    call = start_call(engine_agent(engine, tools=[book]), channel, carrier=FakeCarrier(), options=FAST)
    await engine.connected.wait()
    engine.session.call_tool("book", {"day": "Tuesday"})
    _, output = await engine.session.wait_tool_result()
    assert "book failed: RuntimeError: calendar is down" in output
    assert not call.session.ended
    channel.hang_up()
    record = await call.finish()
    assert [e.data["error"] for e in record.events_of("tool_result")] == [True]


async def test_tool_that_hangs_times_out(no_leaks) -> None:
    @tool
    async def book(day: str) -> str:
        """Book."""
        await asyncio.Event().wait()
        return "never"

    engine = FakeEngine()
    channel = FakeChannel()
    agent = engine_agent(engine, tools=[book], tool_timeout_s=0.2)
    call = start_call(agent, channel, carrier=FakeCarrier(), options=FAST)
    await engine.connected.wait()
    engine.session.call_tool("book", {"day": "Tuesday"})
    _, output = await engine.session.wait_tool_result()
    assert "timed out" in output and not call.session.ended
    channel.hang_up()
    await call.finish()


async def test_caller_hangs_up_during_a_tool_call(no_leaks) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    @tool
    async def book(day: str) -> str:
        """Book."""
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    engine = FakeEngine()
    channel = FakeChannel()
    call = start_call(engine_agent(engine, tools=[book]), channel, carrier=FakeCarrier(), options=FAST)
    await engine.connected.wait()
    engine.session.call_tool("book", {"day": "Tuesday"})
    await started.wait()
    channel.hang_up()
    record = await call.finish()
    assert record.end_reason == "caller hung up" and cancelled.is_set()
    assert record.events_of("tool_result")[0].data["output"] == "cancelled: the call ended"


class GatedTransferCarrier(FakeCarrier):
    """A carrier whose transfer request does not return until the test says so."""

    def __init__(self) -> None:
        super().__init__()
        self.transfer_started = asyncio.Event()
        self.gate = asyncio.Event()

    async def transfer(self, call: CallInfo, to: str, *, warm: WarmTransfer | None = None) -> None:
        self.transfer_started.set()
        await self.gate.wait()
        await super().transfer(call, to, warm=warm)


async def test_caller_hangs_up_during_a_transfer(no_leaks) -> None:
    engine = FakeEngine()
    carrier = GatedTransferCarrier()
    channel = FakeChannel()
    agent = engine_agent(engine, transfer_destinations={"front desk": "+15551234567"})
    call = start_call(agent, channel, carrier=carrier, options=FAST)
    await engine.connected.wait()
    engine.session.call_tool("transfer_call", {"destination": "front desk"})
    await carrier.transfer_started.wait()
    channel.hang_up()
    record = await call.finish()
    assert record.end_reason == "transferred to +15551234567"  # what was in progress when the line went
    assert carrier.transfers == []  # the request was cancelled with the call
    assert record.events_of("tool_result")[-1].data["output"] == "cancelled: the call ended"


async def test_carrier_socket_closed_without_stop(no_leaks) -> None:
    engine = FakeEngine()
    channel = FakeChannel()
    call = start_call(
        engine_agent(engine, first_message="Hello there, how can I help?"), channel, options=FAST
    )
    await channel.wait_for(lambda: channel.played_ms >= 100)
    channel.drop()
    record = await call.finish()
    assert record.end_reason == "caller hung up" and engine.session.closed


# -- pipeline mode ------------------------------------------------------------------------------------


class FlakyLLM(FakeLLM):
    """Fails the requests whose numbers (0-based) are in ``failing``; answers the others."""

    def __init__(self, failing: set[int], *, stall: bool = False) -> None:
        super().__init__()
        self.failing, self.stall = failing, stall

    async def stream(
        self, messages: Sequence[ChatMessage], *, tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[LLMChunk]:
        number = len(self.requests)
        if number in self.failing:
            self.requests.append((list(messages), list(tools)))
            if self.stall:
                await asyncio.Event().wait()
            raise ProviderConnectionError("the LLM connection dropped", provider="fake")
        async for chunk in super().stream(messages, tools=tools):
            yield chunk


async def turn(channel: FakeChannel, tts: FakeTTS, llm: FakeLLM, number: int) -> None:
    await channel.speak(utterance())
    await channel.wait_for(lambda: len(llm.requests) > number)


async def test_one_failed_reply_is_recovered_from(no_leaks) -> None:
    llm, tts, carrier, channel = FlakyLLM({0}), FakeTTS(), FakeCarrier(), FakeChannel()
    call = start_call(pipeline_agent(llm, tts), channel, carrier=carrier, options=FAST)
    await turn(channel, tts, llm, 0)
    await channel.wait_for(lambda: bool(call.session.record.events_of("error")))
    await turn(channel, tts, llm, 1)
    await channel.wait_for(lambda: len(tts.texts) >= 1)  # the second turn is answered
    assert not call.session.ended
    channel.hang_up()
    record = await call.finish()
    assert record.end_reason == "caller hung up" and carrier.hangups == []
    assert [e.data["fatal"] for e in record.events_of("error")] == [False]


async def test_two_failed_replies_in_a_row_apologise(no_leaks) -> None:
    llm, tts, carrier, channel = FlakyLLM({0, 1}), FakeTTS(), FakeCarrier(), FakeChannel()
    call = start_call(pipeline_agent(llm, tts), channel, carrier=carrier, options=FAST)
    await turn(channel, tts, llm, 0)
    await channel.wait_for(lambda: bool(call.session.record.events_of("error")))
    await channel.speak(utterance())
    record = await call.finish()
    assert apologised(carrier) and record.end_reason.startswith("provider failure")
    assert [e.data["fatal"] for e in record.events_of("error")][:2] == [False, True]


async def test_a_stalled_llm_is_bounded(no_leaks) -> None:
    llm, tts, carrier, channel = FlakyLLM({0, 1}, stall=True), FakeTTS(), FakeCarrier(), FakeChannel()
    call = start_call(pipeline_agent(llm, tts), channel, carrier=carrier, options=FAST)
    await turn(channel, tts, llm, 0)
    await channel.wait_for(lambda: bool(call.session.record.events_of("error")))
    assert "the LLM sent nothing for 0.2 s" in call.session.record.events_of("error")[0].data["message"]
    await channel.speak(utterance())
    record = await call.finish()
    assert apologised(carrier) and record.end_reason.startswith("provider failure: reply failed")


async def test_a_stalled_tts_is_bounded(no_leaks) -> None:
    llm, tts, carrier, channel = FakeLLM(), FakeTTS(delay_s=3600), FakeCarrier(), FakeChannel()
    call = start_call(pipeline_agent(llm, tts), channel, carrier=carrier, options=FAST)
    await turn(channel, tts, llm, 0)
    await channel.wait_for(lambda: bool(call.session.record.events_of("error")))
    assert "text-to-speech sent nothing" in call.session.record.events_of("error")[0].data["message"]
    await channel.speak(utterance())
    record = await call.finish()
    assert apologised(carrier) and tts.cancelled  # the stalled synthesis was closed
    assert record.end_reason.startswith("provider failure: reply failed")


async def test_speech_to_text_dropped(no_leaks) -> None:
    llm, carrier, channel = FakeLLM(), FakeCarrier(), FakeChannel()
    agent = pipeline_agent(llm)
    call = start_call(agent, channel, carrier=carrier, options=FAST)
    await channel.wait_for(lambda: bool(agent.stt.streams))  # type: ignore[union-attr]
    agent.stt.stream.emit(ProviderConnectionError("recogniser socket dropped", provider="fake"))  # type: ignore[union-attr]
    record = await call.finish()
    assert apologised(carrier) and "recogniser socket dropped" in record.end_reason


async def test_a_provider_error_that_is_fatal_ends_the_call_at_once(no_leaks) -> None:
    class RefusingLLM(FakeLLM):
        async def stream(self, messages, *, tools=()):  # type: ignore[no-untyped-def,override]
            self.requests.append((list(messages), list(tools)))
            raise ProviderError("invalid API key", provider="fake", fatal=True)
            yield  # pragma: no cover

    llm, carrier, channel = RefusingLLM(), FakeCarrier(), FakeChannel()
    call = start_call(pipeline_agent(llm), channel, carrier=carrier, options=FAST)
    await turn(channel, FakeTTS(), llm, 0)
    record = await call.finish()
    assert apologised(carrier) and "invalid API key" in record.end_reason
