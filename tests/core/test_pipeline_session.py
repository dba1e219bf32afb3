"""The session loop in pipeline mode: VAD + STT -> LLM / on_message -> sentences -> TTS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from patter_core.agent import Agent
from patter_core.audio import MULAW_8K, PCM16_16K
from patter_core.guardrails import guardrail
from patter_core.interfaces.llm import Role
from patter_core.session.call import SessionOptions
from patter_core.session.turns import CallerTurn
from patter_core.testing import (
    FakeCarrier,
    FakeChannel,
    FakeLLM,
    FakeSTT,
    FakeTTS,
    FakeVAD,
    ToolCall,
    silence,
    start_call,
    voice,
)
from patter_core.tools import tool


def utterance(ms: float = 600) -> bytes:
    return voice(ms, MULAW_8K) + silence(400, MULAW_8K)


def pipeline_agent(stt: FakeSTT, tts: FakeTTS, llm: FakeLLM | None = None, **kw) -> Agent:
    return Agent(system_prompt="You are a test agent.", stt=stt, llm=llm, tts=tts, vad=FakeVAD(), **kw)


async def test_full_pipeline_turn_streams_into_each_stage() -> None:
    stt = FakeSTT(["What time do you open?"])
    llm = FakeLLM([["We open at nine. We close at five."]])
    tts = FakeTTS()
    channel = FakeChannel()
    call = start_call(pipeline_agent(stt, tts, llm, first_message="Hello!"), channel)
    await channel.wait_for(lambda: "Hello!" in tts.texts and channel.played_ms >= 100)
    await channel.wait_for(lambda: not call.session.player.speaking)
    await channel.speak(utterance())
    await channel.wait_for(lambda: len(tts.texts) == 3 and channel.played_ms >= 1200)
    channel.hang_up()
    record = await call.finish()
    assert tts.texts == ["Hello!", "We open at nine.", "We close at five."]  # sentence by sentence
    assert tts.formats[0] == MULAW_8K  # the TTS speaks the wire format: no transcoding
    assert stt.stream.config.format == PCM16_16K and len(stt.stream.audio) > 0
    messages, tools = llm.requests[0]
    assert [m.role for m in messages] == [Role.SYSTEM, Role.ASSISTANT, Role.USER]
    assert messages[2].content == "What time do you open?"
    assert tools == []  # no carrier: no system tools
    assert record.text_of("agent") == ["Hello!", "We open at nine. We close at five."]
    turn = record.turns[-1]
    assert turn.total_ms is not None and turn.stt_ms is not None and turn.brain_ms is not None
    assert turn.first_audio_at is not None
    assert all(len(f) == 160 for f in channel.media_frames())


async def test_barge_in_cancels_and_keeps_only_what_was_heard() -> None:
    stt = FakeSTT(["Tell me about your plans", "Actually stop"])
    llm = FakeLLM(
        [
            [
                "Our first plan is basic. Our second plan is premium with many extras. Our third plan is enterprise."
            ],
            ["Okay."],
        ],
        delay_s=0.01,
    )
    tts = FakeTTS(ms_per_word=100)
    channel = FakeChannel(playback="manual")
    call = start_call(pipeline_agent(stt, tts, llm), channel, options=SessionOptions(mark_interval_ms=100))
    await channel.speak(utterance())
    await channel.wait_for(lambda: channel.queued_ms >= 900)
    channel.play(500 + 300)  # all of sentence one (500 ms) and 300 ms of sentence two (900 ms)
    await channel.wait_for(lambda: channel.played_ms >= 800 and len(channel.echoed) >= 7)
    await asyncio.sleep(0.02)
    await channel.speak(voice(400, MULAW_8K))  # caller talks over the agent for 400 ms (> 300 ms)
    await channel.wait_for(lambda: channel.count("clear") == 1)
    await channel.speak(silence(400, MULAW_8K))
    await channel.wait_for(lambda: len(llm.requests) == 2)
    history = llm.requests[1][0]
    agent_said = [m.content for m in history if m.role is Role.ASSISTANT]
    assert agent_said == ["Our first plan is basic. Our second plan"]
    channel.play(10_000)
    channel.hang_up()
    record = await call.finish()
    interrupted = [t for t in record.transcript if t.interrupted]
    assert interrupted[0].text == "Our first plan is basic. Our second plan"
    assert interrupted[0].full_text.startswith("Our first plan is basic. Our second plan is premium")
    assert record.events_of("barge_in")


async def test_barge_in_cancels_the_llm_and_tts_in_flight() -> None:
    stt = FakeSTT(["tell me everything"])
    llm = FakeLLM([["First part. " + "and more " * 30]], delay_s=0.05)  # ~3 s of streaming
    tts = FakeTTS(delay_s=0.02)
    channel = FakeChannel()
    call = start_call(pipeline_agent(stt, tts, llm), channel)
    await channel.speak(utterance())
    await channel.wait_for(lambda: channel.played_ms >= 100)
    await channel.speak(voice(400, MULAW_8K))
    await channel.wait_for(lambda: channel.count("clear") == 1)
    await channel.wait_for(lambda: llm.cancelled == 1)
    channel.hang_up()
    await call.finish()
    assert not call.session.mode.busy


async def test_short_caller_noise_does_not_interrupt() -> None:
    stt = FakeSTT(["hello"])
    llm = FakeLLM([["This is a fairly long answer that keeps going for a while."]])
    tts = FakeTTS()
    channel = FakeChannel(playback="manual")
    call = start_call(pipeline_agent(stt, tts, llm), channel)
    await channel.speak(utterance())
    await channel.wait_for(lambda: channel.queued_ms >= 400)
    await channel.speak(voice(200, MULAW_8K) + silence(100, MULAW_8K))  # 200 ms < 300 ms threshold
    await asyncio.sleep(0.05)
    assert channel.count("clear") == 0
    channel.play(10_000)
    channel.hang_up()
    await call.finish()


async def test_on_message_string_stream_and_turn_details() -> None:
    seen: list[CallerTurn] = []

    async def on_message(turn: CallerTurn) -> str | AsyncIterator[str]:
        seen.append(turn)
        if turn.turn == 0:
            return "You said: " + turn["text"] + "."

        async def stream() -> AsyncIterator[str]:
            for piece in ["Streaming ", "works. ", "Bye now."]:
                yield piece

        return stream()

    stt = FakeSTT(["first thing", "second thing"])
    tts = FakeTTS()
    channel = FakeChannel()
    call = start_call(pipeline_agent(stt, tts), channel, on_message=on_message)
    await channel.speak(utterance())
    await channel.wait_for(lambda: len(tts.texts) == 1)
    await channel.wait_for(lambda: not call.session.player.speaking)
    await channel.speak(utterance())
    await channel.wait_for(lambda: len(tts.texts) == 3)
    channel.hang_up()
    record = await call.finish()
    assert tts.texts == ["You said: first thing.", "Streaming works.", "Bye now."]
    assert seen[0].text == "first thing" and seen[0].caller == "+15550001111" and seen[0].call_id == "CAfake"
    assert seen[1].history == [
        {"role": "caller", "text": "first thing"},
        {"role": "agent", "text": "You said: first thing."},
    ]
    assert dict(seen[0])["text"] == "first thing"
    assert record.text_of("caller") == ["first thing", "second thing"]


async def test_on_message_that_fails_does_not_end_the_call() -> None:
    async def on_message(turn: CallerTurn) -> str:
        if turn.turn == 0:
            raise RuntimeError("my backend is down")
        return "Back again."

    stt = FakeSTT(["one", "two"])
    tts = FakeTTS()
    channel = FakeChannel()
    call = start_call(pipeline_agent(stt, tts), channel, on_message=on_message)
    await channel.speak(utterance())
    await channel.speak(utterance())
    await channel.wait_for(lambda: tts.texts == ["Back again."])
    channel.hang_up()
    record = await call.finish()
    assert "my backend is down" in record.events_of("error")[0].data["message"]


async def test_tool_calls_in_pipeline_mode() -> None:
    booked: list[str] = []

    @tool
    def book(day: str) -> str:
        """Book a slot."""
        booked.append(day)
        return f"booked for {day}"

    @tool
    async def broken() -> str:
        """Always fails."""
        raise RuntimeError("boom")

    stt = FakeSTT(["book me tuesday"])
    llm = FakeLLM(
        [
            ["One moment. ", ToolCall("book", {"day": "Tuesday"}), ToolCall("broken")],
            ["You're booked for Tuesday."],
        ]
    )
    tts = FakeTTS()
    channel = FakeChannel()
    carrier = FakeCarrier()
    call = start_call(pipeline_agent(stt, tts, llm, tools=[book, broken]), channel, carrier=carrier)
    await channel.speak(utterance())
    await channel.wait_for(lambda: "You're booked for Tuesday." in tts.texts)
    channel.hang_up()
    await call.finish()
    assert booked == ["Tuesday"]
    assert tts.texts == ["One moment.", "You're booked for Tuesday."]
    second = llm.requests[1][0]
    assert second[-3].role is Role.ASSISTANT and [c.name for c in second[-3].tool_calls] == ["book", "broken"]
    assert second[-3].content == "One moment."
    assert second[-2].role is Role.TOOL and second[-2].content == "booked for Tuesday"
    assert second[-1].role is Role.TOOL and "RuntimeError: boom" in second[-1].content
    assert {t.name for t in llm.requests[0][1]} == {"book", "broken", "transfer_call", "end_call"}


async def test_guardrail_replaces_a_blocked_sentence_before_it_is_spoken() -> None:
    stt = FakeSTT(["can I get a refund"])
    llm = FakeLLM([["Sure. I guarantee a full refund today. Anything else?"]])
    tts = FakeTTS()
    rail = guardrail(
        "no-promises", blocked_terms=["guarantee"], replacement="I'll ask a colleague about refunds."
    )
    channel = FakeChannel()
    call = start_call(pipeline_agent(stt, tts, llm, guardrails=[rail]), channel)
    await channel.speak(utterance())
    await channel.wait_for(lambda: len(tts.texts) == 3)
    channel.hang_up()
    record = await call.finish()
    assert tts.texts == ["Sure.", "I'll ask a colleague about refunds.", "Anything else?"]
    assert not any("guarantee" in t for t in tts.texts)
    assert record.events_of("guardrail")[0].data["blocked"] == "I guarantee a full refund today."


async def test_end_call_in_pipeline_mode_speaks_goodbye_first() -> None:
    stt = FakeSTT(["that's all, bye"])
    llm = FakeLLM([["Goodbye, have a nice day!", ToolCall("end_call", {"reason": "done"})]])
    tts = FakeTTS()
    carrier = FakeCarrier()
    channel = FakeChannel()
    call = start_call(pipeline_agent(stt, tts, llm), channel, carrier=carrier)
    await channel.speak(utterance())
    record = await call.finish()
    assert carrier.hangups == [("CAfake", None)]
    assert record.end_reason == "agent hung up: done"
    assert channel.played_ms >= 5 * 150  # the goodbye played in full before the hang-up


async def test_dtmf_becomes_a_caller_turn() -> None:
    seen: list[CallerTurn] = []

    async def on_message(turn: CallerTurn) -> str:
        seen.append(turn)
        return "Got it."

    stt = FakeSTT([])
    tts = FakeTTS()
    channel = FakeChannel()
    call = start_call(pipeline_agent(stt, tts), channel, on_message=on_message)
    for digit in "12#":
        channel.press(digit)
    await channel.wait_for(lambda: tts.texts == ["Got it."])
    channel.hang_up()
    await call.finish()
    assert seen[0].dtmf == "12#" and "12#" in seen[0].text


async def test_odd_sized_tts_chunks_become_exact_frames() -> None:
    stt = FakeSTT(["hi"])
    llm = FakeLLM([["Hello there, odd chunks are fine."]])
    tts = FakeTTS(output_formats=(PCM16_16K,), odd_chunks=True)
    channel = FakeChannel()
    call = start_call(pipeline_agent(stt, tts, llm), channel)
    await channel.speak(utterance())
    await channel.wait_for(lambda: channel.played_ms >= 500)
    channel.hang_up()
    await call.finish()
    assert tts.formats == [PCM16_16K] and channel.bad_frames == 0 and channel.media_frames()


async def test_voicemail_is_spoken_before_the_hang_up() -> None:
    stt = FakeSTT([])
    tts = FakeTTS()
    carrier = FakeCarrier()
    channel = FakeChannel()
    call = start_call(pipeline_agent(stt, tts, FakeLLM([])), channel, carrier=carrier)
    await asyncio.sleep(0.05)
    await call.session.leave_voicemail("Please call the clinic back.")
    record = await call.finish()
    assert tts.texts == ["Please call the clinic back."]
    assert channel.played_ms >= 5 * 150
    assert record.end_reason == "agent hung up: voicemail left"


async def test_a_reply_started_during_the_vads_end_hangover_is_not_cut() -> None:
    """A streaming recogniser may end the turn before the VAD's end-of-speech hangover is over; the
    caller's finished speech must not count as a barge-in on the reply it triggered."""
    from patter_core.interfaces.stt import Transcript

    stt = FakeSTT([])
    llm = FakeLLM([["Sure, I can help with that right away."]])
    tts = FakeTTS()
    channel = FakeChannel()
    agent = Agent(system_prompt="t", stt=stt, llm=llm, tts=tts, vad=FakeVAD(end_ms=800))
    call = start_call(agent, channel)
    await asyncio.sleep(0.05)
    await channel.speak(voice(600, MULAW_8K))
    await channel.wait_for(lambda: len(stt.stream.audio) > 0)
    stt.stream.emit(Transcript("can you help", final=True, end_of_utterance=True))  # endpointed early
    await channel.wait_for(lambda: len(tts.texts) == 1)
    await channel.speak(silence(900, MULAW_8K), realtime=False)  # the VAD ends its hangover meanwhile
    await channel.wait_for(lambda: channel.played_ms >= 7 * 150)
    channel.hang_up()
    record = await call.finish()
    assert record.events_of("barge_in") == [] and channel.count("clear") == 0


async def test_caller_audio_before_the_recogniser_connects_is_kept() -> None:
    class SlowSTT(FakeSTT):
        async def open_stream(self, config):  # type: ignore[no-untyped-def]
            await asyncio.sleep(0.2)
            return await super().open_stream(config)

    stt = SlowSTT([], input_formats=(MULAW_8K,))
    channel = FakeChannel()
    call = start_call(pipeline_agent(stt, FakeTTS(), FakeLLM([])), channel)
    first_words = voice(300, MULAW_8K)
    await channel.speak(first_words)
    await channel.wait_for(lambda: stt.streams and len(stt.stream.audio) >= len(first_words))
    assert bytes(stt.stream.audio) == first_words  # mu-law passthrough, byte for byte, from the start
    channel.hang_up()
    await call.finish()


async def test_a_turn_that_is_only_end_call_hangs_up_at_once() -> None:
    stt = FakeSTT(["bye"])
    llm = FakeLLM([[ToolCall("end_call", {"reason": "done"})]])  # no words before the tool call
    carrier = FakeCarrier()
    channel = FakeChannel()
    call = start_call(
        pipeline_agent(stt, FakeTTS(), llm),
        channel,
        carrier=carrier,
        options=SessionOptions(hangup_wait_s=30),
    )
    await channel.speak(utterance())
    record = await call.finish(timeout=5)  # not held for hangup_wait_s
    assert carrier.hangups and record.end_reason == "agent hung up: done"


async def test_on_message_can_end_and_transfer_the_call_after_its_reply() -> None:
    from patter_core.errors import ToolError

    async def hang_up_bot(turn: CallerTurn) -> str:
        turn.end_call("caller is done")
        return "Goodbye, have a great day."

    stt, tts, carrier, channel = FakeSTT(["bye"]), FakeTTS(), FakeCarrier(), FakeChannel()
    call = start_call(pipeline_agent(stt, tts), channel, carrier=carrier, on_message=hang_up_bot)
    await channel.speak(utterance())
    record = await call.finish()
    assert tts.texts == ["Goodbye, have a great day."] and channel.played_ms >= 5 * 150  # spoken first
    assert record.end_reason == "agent hung up: caller is done" and carrier.hangups

    refused: list[str] = []

    async def transfer_bot(turn: CallerTurn) -> str:
        try:
            turn.transfer("+19005550000")
        except ToolError as exc:
            refused.append(str(exc))
        turn.transfer("desk")
        return "Transferring you now."

    stt, carrier, channel = FakeSTT(["a human please"]), FakeCarrier(), FakeChannel()
    agent = pipeline_agent(stt, FakeTTS(), transfer_destinations={"desk": "+15551234567"})
    call = start_call(agent, channel, carrier=carrier, on_message=transfer_bot)
    await channel.speak(utterance())
    record = await call.finish()
    assert refused and "desk" in refused[0]
    assert carrier.transfers == [("CAfake", "+15551234567", None)]
    assert record.end_reason == "transferred to +15551234567"
