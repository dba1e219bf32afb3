"""Isolation: two calls at once share nothing per call; a barge-in on one leaves the other untouched.

On the real server (once per carrier simulator): call A is barged in on while call B plays the same
script; B hears exactly what it hears when it is the only call (byte for byte), never gets a
``clear``, and every frame reaches it. Provider sessions are per call (engine sessions on the server,
TTS sessions in pipeline mode), so one call's barge-in cannot cancel another call's speech.
"""

from __future__ import annotations

import asyncio

from patter_core.agent import Agent
from patter_core.audio import MULAW_8K
from patter_core.interfaces.carrier import CallInfo
from patter_core.testing import FakeChannel, FakeLLM, FakeSTT, FakeTTS, FakeVAD, silence, start_call, voice

A, B = "+15550001111", "+15550003333"
SCRIPT = "one two three four five six"
MS_PER_WORD = 100


async def play_script(served, caller, number: str, *, barge_in: bool) -> bytes:  # type: ignore[no-untyped-def]
    """Greeting, then one scripted agent utterance; optionally barge in on it halfway."""
    await caller.wait_for(lambda: any(s.config.call.caller == number for s in served.engine.sessions))
    session = served.session_of(number)
    greeting_ms = 4 * 200  # "Hello from the server." at the fake engine's 200 ms per word
    await caller.wait_for(lambda: caller.heard_ms >= greeting_ms)
    await session.speak(SCRIPT, ms_per_word=MS_PER_WORD)
    if barge_in:
        await caller.wait_for(lambda: caller.heard_ms >= greeting_ms + 300)
        session.caller_starts()
        await caller.wait_for(lambda: caller.clears == 1)
    else:
        await caller.wait_for(lambda: caller.heard_ms >= greeting_ms + 6 * MS_PER_WORD, timeout=15)
    await caller.hang_up()
    return bytes(caller.heard)


async def test_a_barge_in_on_one_call_leaves_the_other_byte_identical(served, no_leaks) -> None:
    solo_caller = await served.call(caller=B)
    solo = await play_script(served, solo_caller, B, barge_in=False)
    await served.wait_records(1)
    served.engine.sessions.clear()

    caller_a, caller_b = await served.call(caller=A), await served.call(caller=B)
    heard_a, heard_b = await asyncio.gather(
        play_script(served, caller_a, A, barge_in=True), play_script(served, caller_b, B, barge_in=False)
    )
    assert caller_a.clears == 1 and len(heard_a) < len(solo)  # A was cut off ...
    assert caller_b.clears == 0 and heard_b == solo  # ... B heard exactly what it hears alone
    assert set(caller_b.frame_sizes) == {caller_b.format.frame_bytes()}
    sessions = {s.config.call.caller: s for s in served.engine.sessions}
    assert sessions[A] is not sessions[B]  # one engine session per call
    assert sessions[A].truncations and not sessions[B].truncations
    records = await served.wait_records(3)
    assert all(r.end_reason == "caller hung up" for r in records)


async def test_pipeline_calls_get_their_own_tts_sessions_and_a_barge_in_stays_local(no_leaks) -> None:
    tts = FakeTTS(ms_per_word=150)  # one provider object, shared by both calls (configuration only)
    agent = Agent(
        system_prompt="x",
        stt=FakeSTT(["hi"] * 4),
        llm=FakeLLM(responder=lambda messages, tools: ["one two three four five six seven eight nine ten."]),
        tts=tts,
        vad=FakeVAD(),
        first_message="Hello and welcome to the shop, how can I help?",
    )
    channel_a = FakeChannel(call=CallInfo(call_id="CA-A", carrier="fake", caller=A))
    channel_b = FakeChannel(call=CallInfo(call_id="CA-B", carrier="fake", caller=B))
    call_a, call_b = start_call(agent, channel_a), start_call(agent, channel_b)
    await channel_a.wait_for(lambda: channel_a.played_ms >= 300)
    await channel_b.wait_for(lambda: channel_b.played_ms >= 300)
    assert call_a.session.mode.tts_session is not call_b.session.mode.tts_session
    await channel_a.speak(voice(600, MULAW_8K) + silence(100, MULAW_8K))  # A talks over the agent
    await channel_a.wait_for(lambda: channel_a.count("clear") >= 1)
    await channel_b.wait_for(lambda: not call_b.session.player.speaking, timeout=15)
    assert channel_b.count("clear") == 0
    greeting = "Hello and welcome to the shop, how can I help?"
    assert channel_b.played_ms >= len(greeting.split()) * 150 - 20  # B's greeting played in full
    channel_a.hang_up()
    channel_b.hang_up()
    record_a, record_b = await call_a.finish(), await call_b.finish()
    assert record_a.events_of("barge_in") and not record_b.events_of("barge_in")
