"""The session loop in engine mode, driven through the core's fakes."""

from __future__ import annotations

import asyncio

import pytest

from patter_core.agent import Agent
from patter_core.audio import MULAW_8K, PCM16_16K, Converter
from patter_core.guardrails import guardrail
from patter_core.interfaces.engine import CallerTranscript, EngineError
from patter_core.session.call import APOLOGY, SessionOptions
from patter_core.testing import FakeCarrier, FakeChannel, FakeEngine, start_call, voice
from patter_core.tools import ToolError, tool


def agent_with(engine: FakeEngine, **kw) -> Agent:
    return Agent(system_prompt="You are a test agent.", engine=engine, **kw)


async def test_full_engine_turn_with_passthrough_audio() -> None:
    engine = FakeEngine()
    channel = FakeChannel()
    call = start_call(
        agent_with(engine, first_message="Hello, thanks for calling."), channel, carrier=FakeCarrier()
    )
    await channel.wait_for(lambda: channel.played_ms >= 800)
    session = engine.session
    assert session.config.first_message == "Hello, thanks for calling."
    assert {t.name for t in session.config.tools} == {"transfer_call", "end_call"}
    assert session.input_format == MULAW_8K  # carrier format accepted: no conversion
    caller_audio = voice(400, MULAW_8K)
    await channel.speak(caller_audio)
    await channel.wait_for(lambda: len(session.audio_in) == len(caller_audio))
    assert bytes(session.audio_in) == caller_audio  # passed through byte for byte
    session.caller_says("What time do you open?")
    await session.speak("We open at nine.")
    await channel.wait_for(lambda: channel.played_ms >= 1400)
    channel.hang_up()
    record = await call.finish()
    assert record.end_reason == "caller hung up"
    assert all(len(f) == 160 for f in channel.media_frames()) and channel.bad_frames == 0
    assert record.text_of("caller") == ["What time do you open?"]
    assert record.text_of("agent") == ["Hello, thanks for calling.", "We open at nine."]
    assert record.turns and record.turns[0].mode == "engine" and record.turns[0].first_audio_at is not None
    assert session.closed


async def test_caller_audio_is_converted_once_when_the_engine_needs_pcm() -> None:
    engine = FakeEngine(input_formats=(PCM16_16K,), output_formats=(PCM16_16K,))
    channel = FakeChannel()
    call = start_call(agent_with(engine), channel)
    await engine.connected.wait()
    caller_audio = voice(200, MULAW_8K)
    await channel.speak(caller_audio)
    expected = Converter(MULAW_8K, PCM16_16K).convert(caller_audio)
    await channel.wait_for(lambda: len(engine.session.audio_in) >= len(expected))
    assert bytes(engine.session.audio_in) == expected
    await engine.session.speak("Sure thing.")
    await channel.wait_for(lambda: channel.played_ms >= 300)
    assert all(len(f) == 160 for f in channel.media_frames())  # converted back to the wire format
    channel.hang_up()
    await call.finish()


async def test_barge_in_truncates_at_the_acknowledged_position() -> None:
    engine = FakeEngine()
    channel = FakeChannel(playback="manual")
    call = start_call(agent_with(engine), channel, options=SessionOptions(mark_interval_ms=100, lead_ms=400))
    await engine.connected.wait()
    session = engine.session
    item = await session.speak("one two three four five six seven eight nine ten")  # 2 s of audio
    await channel.wait_for(lambda: channel.queued_ms >= 600)
    channel.play(500)  # the caller has heard 500 ms; marks up to there come back
    await channel.wait_for(lambda: channel.echoed and channel.played_ms >= 500)
    await asyncio.sleep(0.01)
    session.caller_starts()
    await channel.wait_for(lambda: channel.count("clear") == 1)
    await channel.wait_for(lambda: session.truncations != [])
    assert session.truncations == [(item, 500)]
    sent_before = len(channel.media_frames())
    await session.speak("late audio for another item")  # a new item still plays
    await channel.wait_for(lambda: len(channel.media_frames()) > sent_before)
    channel.hang_up()
    record = await call.finish()
    barge = record.events_of("barge_in")[0]
    assert barge.data["heard_ms"] == {item: 500.0}
    first = record.transcript[0]
    assert first.interrupted and first.text == "one two" and first.full_text.startswith("one two three")
    assert channel.cleared_marks  # marks returned by the clear were not counted as played


async def test_no_truncation_for_an_item_that_finished_playing() -> None:
    engine = FakeEngine()
    channel = FakeChannel(playback="manual")
    call = start_call(agent_with(engine), channel)
    await engine.connected.wait()
    await engine.session.speak("short")
    await channel.wait_for(lambda: channel.queued_ms >= 200 and channel.count("mark") >= 2)
    channel.play(10_000)
    await channel.wait_for(lambda: not call.session.player.speaking)
    engine.session.caller_starts()
    await asyncio.sleep(0.05)
    assert engine.session.truncations == [] and channel.count("clear") == 0
    channel.hang_up()
    await call.finish()


async def test_tools_sync_async_timeout_and_errors_return_results_and_the_call_goes_on() -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @tool
    async def lookup(name: str) -> dict[str, str]:
        """Look someone up."""
        return {"name": name, "status": "found"}

    @tool(timeout=0.05)
    async def hang() -> str:
        """Never answers."""
        await asyncio.sleep(30)
        return "x"

    @tool
    async def explode() -> str:
        """Always fails."""
        raise ToolError("the booking system is down")

    engine = FakeEngine()
    channel = FakeChannel()
    call = start_call(agent_with(engine, tools=[add, lookup, hang, explode]), channel, carrier=FakeCarrier())
    await engine.connected.wait()
    s = engine.session
    s.call_tool("add", {"a": 2, "b": 3}, call_id="c1")
    assert await s.wait_tool_result() == ("c1", "5")
    s.call_tool("lookup", {"name": "Ada"}, call_id="c2")
    assert await s.wait_tool_result() == ("c2", '{"name": "Ada", "status": "found"}')
    s.call_tool("hang", call_id="c3")
    assert (await s.wait_tool_result())[1].endswith("timed out after 0.05 s")
    s.call_tool("explode", call_id="c4")
    assert await s.wait_tool_result() == ("c4", "error: the booking system is down")
    s.call_tool("no_such_tool", call_id="c5")
    assert "unknown tool 'no_such_tool'" in (await s.wait_tool_result())[1]
    await s.speak("Still here.")
    await channel.wait_for(lambda: channel.played_ms >= 300)
    channel.hang_up()
    record = await call.finish()
    assert [e.data["name"] for e in record.events_of("tool_result")] == [
        "add",
        "lookup",
        "hang",
        "explode",
        "no_such_tool",
    ]
    assert [e.data["error"] for e in record.events_of("tool_result")] == [False, False, True, True, True]


async def test_end_call_hangs_up_through_the_carrier_after_the_goodbye() -> None:
    engine = FakeEngine()
    carrier = FakeCarrier()
    channel = FakeChannel()
    call = start_call(agent_with(engine), channel, carrier=carrier)
    await engine.connected.wait()
    await engine.session.speak("Goodbye and thanks for calling!")
    engine.session.call_tool("end_call", {"reason": "caller is done"})
    record = await call.finish()
    assert carrier.hangups == [("CAfake", None)]
    assert record.end_reason == "agent hung up: caller is done"
    assert channel.played_ms >= 1000  # the goodbye played before the hang-up


async def test_transfer_only_to_configured_destinations() -> None:
    engine = FakeEngine()
    carrier = FakeCarrier()
    channel = FakeChannel()
    agent = agent_with(engine, transfer_destinations={"sales": "+15551234567"})
    call = start_call(agent, channel, carrier=carrier)
    await engine.connected.wait()
    spec = {t.name: t for t in engine.session.config.tools}["transfer_call"]
    assert "sales" in spec.description
    engine.session.call_tool("transfer_call", {"destination": "+19005550000"}, call_id="bad")
    _, output = await engine.session.wait_tool_result()
    assert "not an allowed transfer destination" in output and "sales" in output
    assert carrier.transfers == []
    engine.session.call_tool("transfer_call", {"destination": "sales"}, call_id="good")
    record = await call.finish()
    assert carrier.transfers == [("CAfake", "+15551234567", None)]
    assert record.end_reason == "transferred to +15551234567"
    assert record.events_of("transfer_refused")[0].data == {"requested": "+19005550000"}


async def test_guardrail_stops_blocked_engine_speech_and_speaks_the_replacement() -> None:
    engine = FakeEngine()
    channel = FakeChannel(playback="manual")
    rail = guardrail(
        "no-prices", blocked_terms=["discount"], replacement="Let me connect you with sales for pricing."
    )
    call = start_call(agent_with(engine, guardrails=[rail]), channel)
    await engine.connected.wait()
    await engine.session.speak("I can give you a discount today.")
    await channel.wait_for(lambda: channel.count("clear") >= 1)
    await channel.wait_for(lambda: engine.session.said != [])
    assert engine.session.said == ["Let me connect you with sales for pricing."]
    assert engine.session.cancels == 1
    channel.hang_up()
    record = await call.finish()
    assert record.events_of("guardrail")[0].data["guardrail"] == "no-prices"
    assert "discount" not in " ".join(e.text for e in record.transcript if not e.interrupted)


async def test_dtmf_reaches_the_engine_as_text() -> None:
    engine = FakeEngine()
    channel = FakeChannel()
    call = start_call(agent_with(engine), channel)
    await engine.connected.wait()
    channel.press("5")
    await channel.wait_for(lambda: engine.session.texts != [])
    assert "5" in engine.session.texts[0]
    channel.hang_up()
    record = await call.finish()
    assert record.events_of("dtmf")[0].data == {"digit": "5"}


async def test_engine_failure_mid_call_apologises_and_hangs_up() -> None:
    engine = FakeEngine()
    carrier = FakeCarrier()
    channel = FakeChannel()
    call = start_call(agent_with(engine), channel, carrier=carrier)
    await engine.connected.wait()
    engine.session.emit(EngineError("rate limited", code="rate_limit"))  # non-fatal: logged, call goes on
    engine.session.emit(CallerTranscript("hello"))
    engine.session.fail("socket dropped twice")
    record = await call.finish()
    assert carrier.hangups == [("CAfake", APOLOGY)]
    assert record.end_reason.startswith("provider failure")
    assert next(e.data.get("code") for e in record.events_of("error")) == "rate_limit"


async def test_engine_that_cannot_connect_ends_the_call_cleanly() -> None:
    carrier = FakeCarrier()
    call = start_call(agent_with(FakeEngine(fail_connect=True)), FakeChannel(), carrier=carrier)
    record = await call.finish()
    assert carrier.hangups == [("CAfake", APOLOGY)]
    assert record.ended_at is not None


async def test_engine_ending_the_conversation_hangs_up() -> None:
    engine = FakeEngine()
    carrier = FakeCarrier()
    call = start_call(agent_with(engine), FakeChannel(), carrier=carrier)
    await engine.connected.wait()
    engine.session.end_conversation()
    record = await call.finish()
    assert record.end_reason.startswith("agent hung up")
    assert carrier.hangups


@pytest.mark.parametrize("how", ["stop", "drop"])
async def test_no_task_outlives_its_call(how: str) -> None:
    before = asyncio.all_tasks()
    engine = FakeEngine()
    channel = FakeChannel()
    call = start_call(agent_with(engine, first_message="Hi there, this is a long greeting to play."), channel)
    await channel.wait_for(lambda: channel.played_ms >= 100)
    engine.session.call_tool("end_call")  # a tool task in flight while the caller goes away
    channel.hang_up() if how == "stop" else channel.drop()
    await call.finish()
    await asyncio.sleep(0.05)
    assert len(call.session.scope) == 0
    leftover = [t for t in asyncio.all_tasks() - before if not t.done() and "call-" in t.get_name()]
    assert leftover == []
    assert channel.closed is not None


async def test_dtmf_out_uses_in_band_tones_when_the_carrier_cannot_send_them() -> None:
    import numpy as np

    from patter_core.audio import DTMF_FREQUENCIES, PCM16_8K, to_pcm16

    engine = FakeEngine()
    channel = FakeChannel()
    call = start_call(agent_with(engine), channel)  # no carrier API: tones go through the audio path
    await engine.connected.wait()
    await call.session.send_dtmf("5")
    await channel.wait_for(lambda: channel.played_ms >= 100)
    pcm = to_pcm16(bytes(channel.played[:800]), MULAW_8K).astype(float)
    spectrum = np.abs(np.fft.rfft(pcm))
    freqs = np.fft.rfftfreq(len(pcm), 1 / PCM16_8K.sample_rate)
    peaks = sorted(freqs[np.argsort(spectrum)[-2:]])
    low, high = DTMF_FREQUENCIES["5"]
    assert abs(peaks[0] - low) < 15 and abs(peaks[1] - high) < 15
    channel.hang_up()
    await call.finish()


async def test_caller_audio_before_the_engine_connects_is_kept() -> None:
    engine = FakeEngine(connect_delay=0.2)
    channel = FakeChannel()
    call = start_call(agent_with(engine), channel)
    first_words = voice(300, MULAW_8K)
    await channel.speak(first_words)  # the caller talks while the engine is still connecting
    await engine.connected.wait()
    await channel.wait_for(lambda: len(engine.session.audio_in) >= len(first_words))
    assert bytes(engine.session.audio_in) == first_words
    channel.hang_up()
    await call.finish()


async def test_transfer_with_a_summary_is_a_warm_transfer() -> None:
    from patter_core.interfaces.carrier import WarmTransfer

    engine = FakeEngine()
    carrier = FakeCarrier()
    call = start_call(
        agent_with(engine, transfer_destinations={"sales": "+15551234567"}), FakeChannel(), carrier=carrier
    )
    await engine.connected.wait()
    spec = {t.name: t for t in engine.session.config.tools}["transfer_call"]
    assert "summary" in spec.parameters["properties"]
    engine.session.call_tool(
        "transfer_call", {"destination": "sales", "summary": "Caller wants a quote for 3 seats."}
    )
    await call.finish()
    assert carrier.transfers == [
        ("CAfake", "+15551234567", WarmTransfer(summary="Caller wants a quote for 3 seats."))
    ]
