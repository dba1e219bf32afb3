"""Faults injected through the plugins' fake vendor servers, in whole calls (session + carrier fakes).

Each provider's own failure mode, with its defined outcome:

==========================================  ==============================================================
fault                                       outcome
==========================================  ==============================================================
OpenAI Realtime socket dropped once         reconnected once (session re-seeded), the call goes on
OpenAI Realtime dropped again               the carrier speaks the apology and hangs up
OpenAI Realtime stalls (socket alive)       the reply watchdog (or the keep-alive) fails it: apology
OpenAI Realtime error event                 recorded; the call goes on
ElevenLabs ConvAI dropped mid-utterance     conversations cannot be resumed: apology
ElevenLabs ConvAI garbage frames            dropped; the call goes on
Deepgram dropped once                       reconnected with the buffered audio; the turn is answered
OpenAI chat stream cut mid-reply            that reply is lost; the next turn is answered
ElevenLabs TTS socket dropped mid-sentence  that reply is lost; the next turn is answered
==========================================  ==============================================================

Every test ends with the ``no_leaks`` check (tasks, sockets -- both ends of each fake's connections
are in this process -- and files).
"""

from __future__ import annotations

import asyncio

import pytest

from patter_core.agent import Agent
from patter_core.audio import MULAW_8K
from patter_core.session.call import APOLOGY, SessionOptions
from patter_core.testing import (
    FakeCarrier,
    FakeChannel,
    FakeLLM,
    FakeSTT,
    FakeTTS,
    silence,
    start_call,
    voice,
)

FAST = SessionOptions(connect_timeout_s=5.0, stall_timeout_s=0.5, hangup_wait_s=1.0)


def apologised(carrier: FakeCarrier) -> bool:
    return carrier.hangups == [("CAfake", APOLOGY)]


# -- OpenAI Realtime ----------------------------------------------------------------------------------


@pytest.fixture
def openai():  # type: ignore[no-untyped-def]
    return pytest.importorskip("patter_openai")


def realtime_agent(openai, fake, **engine_kw) -> Agent:  # type: ignore[no-untyped-def]
    engine_kw.setdefault("connect_timeout", 5.0)
    engine_kw.setdefault("reconnect_timeout", 5.0)
    engine = openai.OpenAIRealtime(api_key="sk-test-key", base_url=fake.base_url, **engine_kw)
    return Agent(system_prompt="Be brief.", engine=engine, first_message="Hello, thanks for calling Acme.")


async def test_realtime_socket_dropped_once_is_reconnected(openai, no_leaks) -> None:
    from patter_openai.testing import FakeRealtimeServer

    async with FakeRealtimeServer(api_key="sk-test-key", pace=4.0, chunk_ms=40, drop_after=[6, None]) as fake:
        carrier, channel = FakeCarrier(), FakeChannel()
        call = start_call(realtime_agent(openai, fake), channel, carrier=carrier, options=FAST)
        await fake.wait_for_connections(2)
        await channel.speak(voice(200, MULAW_8K))
        await channel.wait_for(lambda: channel.played_ms >= 100)
        assert not call.session.ended
        channel.hang_up()
        record = await call.finish()
    assert record.end_reason == "caller hung up" and carrier.hangups == []
    assert len(fake.connections) == 2 and fake.invalid_events == []


async def test_realtime_socket_dropped_twice_apologises(openai, no_leaks) -> None:
    from patter_openai.testing import FakeRealtimeServer

    async with FakeRealtimeServer(api_key="sk-test-key", pace=4.0, chunk_ms=40, drop_after=[6, 3]) as fake:
        carrier, channel = FakeCarrier(), FakeChannel()
        record = await start_call(
            realtime_agent(openai, fake), channel, carrier=carrier, options=FAST
        ).finish()
    assert apologised(carrier) and "dropped again" in record.end_reason


async def test_realtime_that_stalls_after_setup_apologises(openai, no_leaks) -> None:
    from patter_openai.testing import FakeRealtimeServer

    async with FakeRealtimeServer(api_key="sk-test-key", stall="after_updated") as fake:
        carrier = FakeCarrier()
        agent = realtime_agent(openai, fake, keepalive_interval=None, keepalive_timeout=None)
        record = await start_call(agent, FakeChannel(), carrier=carrier, options=FAST).finish()
    assert apologised(carrier) and "sent nothing" in record.end_reason  # the greeting never came


async def test_realtime_error_event_is_recorded_and_the_call_goes_on(openai, no_leaks) -> None:
    from patter_openai.testing import FakeRealtimeServer

    async with FakeRealtimeServer(api_key="sk-test-key", pace=0) as fake:
        carrier, channel = FakeCarrier(), FakeChannel()
        call = start_call(realtime_agent(openai, fake), channel, carrier=carrier, options=FAST)
        await channel.wait_for(lambda: channel.played_ms >= 100)
        await fake.send_error("rate_limit_exceeded", "slow down")
        await channel.wait_for(lambda: bool(call.session.record.events_of("error")))
        assert not call.session.ended
        channel.hang_up()
        record = await call.finish()
    assert record.end_reason == "caller hung up" and carrier.hangups == []
    assert record.events_of("error")[0].data["code"] == "rate_limit_exceeded"


async def test_caller_hangs_up_while_realtime_is_still_connecting(openai, no_leaks) -> None:
    from patter_openai.testing import FakeRealtimeServer

    async with FakeRealtimeServer(api_key="sk-test-key", stall="before_created") as fake:
        carrier, channel = FakeCarrier(), FakeChannel()
        agent = realtime_agent(openai, fake, connect_timeout=60)
        call = start_call(agent, channel, carrier=carrier, options=SessionOptions(connect_timeout_s=60))
        await fake.wait_for_connections(1)
        channel.hang_up()
        record = await call.finish()
    assert record.end_reason == "caller hung up" and carrier.hangups == []  # the half-open socket is closed


# -- ElevenLabs ConvAI ---------------------------------------------------------------------------------


async def test_caller_hangs_up_while_convai_is_still_connecting(no_leaks) -> None:
    elevenlabs = pytest.importorskip("patter_elevenlabs")
    from patter_elevenlabs.testing import FakeConvAIServer

    async with FakeConvAIServer(send_metadata=False) as fake:
        engine = elevenlabs.ElevenLabsConvAI(
            agent_id=fake.agent_id, api_key=fake.api_key, base_url=fake.base_url
        )
        carrier, channel = FakeCarrier(), FakeChannel()
        call = start_call(Agent(system_prompt="x", engine=engine), channel, carrier=carrier, options=FAST)
        await channel.wait_for(lambda: bool(fake.connections))
        channel.hang_up()
        record = await call.finish()
    assert record.end_reason == "caller hung up" and carrier.hangups == []


async def test_convai_dropped_mid_utterance_apologises(no_leaks) -> None:
    elevenlabs = pytest.importorskip("patter_elevenlabs")
    from patter_elevenlabs.testing import Drop, FakeConvAIServer, Speak

    async with FakeConvAIServer(
        script=[Speak(ms=1000, text="Hello, Acme here.", wait=False), Drop()]
    ) as fake:
        engine = elevenlabs.ElevenLabsConvAI(
            agent_id=fake.agent_id, api_key=fake.api_key, base_url=fake.base_url
        )
        carrier = FakeCarrier()
        agent = Agent(system_prompt="Be brief.", engine=engine)
        record = await start_call(agent, FakeChannel(), carrier=carrier, options=FAST).finish()
    assert apologised(carrier) and "cannot be resumed" in record.end_reason


async def test_convai_garbage_frames_are_dropped(no_leaks) -> None:
    elevenlabs = pytest.importorskip("patter_elevenlabs")
    from patter_elevenlabs.testing import Close, FakeConvAIServer, Send, Speak

    garbage = [
        "not json",
        "[" * 50_000,
        '{"type": ["audio"]}',
        '{"type": "client_tool_call", "client_tool_call": 7}',
    ]
    script = [*(Send(g) for g in garbage), Speak(ms=300, text="Still here."), Close()]
    async with FakeConvAIServer(script=script, speed=0) as fake:
        engine = elevenlabs.ElevenLabsConvAI(
            agent_id=fake.agent_id, api_key=fake.api_key, base_url=fake.base_url
        )
        carrier, channel = FakeCarrier(), FakeChannel()
        call = start_call(
            Agent(system_prompt="Be brief.", engine=engine), channel, carrier=carrier, options=FAST
        )
        record = await call.finish()
    # the conversation went on past the garbage: the agent spoke, then ended it itself
    assert record.end_reason == "agent hung up: the engine ended the conversation"
    assert record.text_of("agent") == ["Still here."] and channel.played_ms >= 300
    assert not [e for e in record.events_of("error") if e.data.get("fatal")]


# -- pipeline: Deepgram, OpenAI chat, ElevenLabs TTS ---------------------------------------------------


def caller_turn_audio() -> bytes:
    return voice(700, MULAW_8K) + silence(700, MULAW_8K)


async def test_deepgram_dropped_once_reconnects_and_the_turn_is_answered(no_leaks) -> None:
    deepgram = pytest.importorskip("patter_deepgram")
    from patter_deepgram.testing import FakeDeepgramServer, Utterance

    async with FakeDeepgramServer(
        script=[Utterance("what are your hours", at_ms=600)], drop_after_ms=300
    ) as fake:
        stt = deepgram.DeepgramSTT(api_key=fake.api_key, base_url=fake.base_url)
        llm, tts = FakeLLM([["We open at nine."]]), FakeTTS()
        carrier, channel = FakeCarrier(), FakeChannel()
        call = start_call(
            Agent(system_prompt="x", stt=stt, llm=llm, tts=tts), channel, carrier=carrier, options=FAST
        )
        await channel.speak(caller_turn_audio(), realtime=True)
        await channel.wait_for(lambda: "We open at nine." in tts.texts, timeout=10)
        channel.hang_up()
        record = await call.finish()
    assert len(fake.connections) == 2 and record.text_of("caller") == ["what are your hours"]
    assert carrier.hangups == []


async def test_chat_stream_cut_mid_reply_loses_that_reply_only(no_leaks) -> None:
    openai = pytest.importorskip("patter_openai")
    from patter_openai.testing import ChatScript, FakeOpenAIHTTP

    async with FakeOpenAIHTTP(api_key="sk-test-key") as fake:
        fake.script_chat(
            ChatScript(text="We open at nine and close at five.", cut_after=3), ChatScript(text="Nine.")
        )
        llm = openai.OpenAILLM(api_key="sk-test-key", base_url=fake.base_url)
        stt, tts = FakeSTT(["when do you open", "so when"]), FakeTTS()
        carrier, channel = FakeCarrier(), FakeChannel()
        agent = Agent(system_prompt="x", stt=stt, llm=llm, tts=tts)
        call = start_call(agent, channel, carrier=carrier, options=FAST)
        await channel.speak(caller_turn_audio())
        await channel.wait_for(lambda: bool(call.session.record.events_of("error")), timeout=10)
        await channel.speak(caller_turn_audio())
        await channel.wait_for(lambda: "Nine." in tts.texts, timeout=10)
        channel.hang_up()
        record = await call.finish()
        await llm.aclose()
    assert record.end_reason == "caller hung up" and carrier.hangups == []
    assert [e.data["fatal"] for e in record.events_of("error")] == [False]


async def test_tts_socket_dropped_mid_sentence_loses_that_reply_only(no_leaks) -> None:
    elevenlabs = pytest.importorskip("patter_elevenlabs")
    from patter_elevenlabs.testing import FakeElevenLabsTTSServer

    async with FakeElevenLabsTTSServer(speed=0) as fake:
        fake.drop_next_after_chunks = 2
        tts = elevenlabs.ElevenLabsTTS(voice_id="voice1", api_key=fake.api_key, base_url=fake.base_url)
        stt, llm = FakeSTT(["hello", "hello again"]), FakeLLM([["First answer."], ["Second answer."]])
        carrier, channel = FakeCarrier(), FakeChannel()
        call = start_call(
            Agent(system_prompt="x", stt=stt, llm=llm, tts=tts), channel, carrier=carrier, options=FAST
        )
        await channel.speak(caller_turn_audio())
        await channel.wait_for(lambda: bool(call.session.record.events_of("error")), timeout=10)
        await channel.speak(caller_turn_audio())
        await channel.wait_for(lambda: fake.texts.count("Second answer.") == 1, timeout=10)
        await channel.wait_for(lambda: not call.session.player.speaking, timeout=10)
        channel.hang_up()
        record = await call.finish()
    assert record.end_reason == "caller hung up" and carrier.hangups == []
    assert [e.data["fatal"] for e in record.events_of("error")] == [False]


async def test_everything_a_fault_test_opened_is_closed(no_leaks) -> None:
    """A control: a clean pipeline call against the same fakes leaves nothing either."""
    tts = FakeTTS()
    channel = FakeChannel()
    call = start_call(
        Agent(system_prompt="x", stt=FakeSTT(["hi"]), llm=FakeLLM(), tts=tts), channel, options=FAST
    )
    await channel.speak(caller_turn_audio())
    await channel.wait_for(lambda: bool(tts.texts))
    channel.hang_up()
    await asyncio.wait_for(call.finish(), 10)
