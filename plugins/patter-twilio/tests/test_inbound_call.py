"""A whole inbound call: simulator -> signed webhook -> TwiML -> media socket -> the core -> REST."""

from __future__ import annotations

from patter_twilio.testing import TwilioCallerSimulator
from patter_twilio.testing.harness import WEBHOOK_HOST, TwilioEnv

from patter_core.audio import MULAW_8K
from patter_core.interfaces.carrier import CallOutcome
from patter_core.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, ToolCall, silence, voice

STATUS = f"https://{WEBHOOK_HOST}/webhooks/twilio/status"


async def test_full_inbound_call_with_barge_in_dtmf_and_end_call(env: TwilioEnv) -> None:
    sim: TwilioCallerSimulator = env.caller(status_callback=STATUS)
    async with sim:
        # the greeting plays in real time, in exact 160-byte mu-law frames
        await sim.wait_for(lambda: sim.heard_ms >= 600)
        caller = sim.live
        assert caller.frame_sizes and all(size == 160 for size in caller.frame_sizes)
        session = env.engine.session

        # a caller turn reaches the engine unchanged; the engine replies
        await caller.wait_for(lambda: not env.session(sim.call_sid).player.speaking)
        utterance = voice(400, MULAW_8K)
        await sim.say(utterance)
        await caller.wait_for(lambda: utterance in bytes(session.audio_in))  # mu-law passthrough, unchanged
        heard_before_reply = sim.heard_ms
        item = await session.speak("one two three four five six seven eight nine ten")
        await sim.wait_for(lambda: sim.heard_ms >= heard_before_reply + 600)

        # barge-in: the server clears Twilio's buffer and truncates at what the caller heard
        session.caller_starts()
        await sim.wait_for(lambda: caller.clears == 1)
        await sim.wait_for(lambda: session.truncations != [])
        truncated_item, heard_ms = session.truncations[0]
        assert truncated_item == item
        assert 0 < heard_ms <= sim.heard_ms - heard_before_reply  # from echoed marks: never past what played
        assert heard_ms >= 500  # and not far behind it (marks every 100 ms)

        # DTMF in reaches the session (its record and the engine)
        await sim.press("5")
        await env.wait(lambda: any("5 key" in t for t in session.texts))

        # end_call: the agent hangs up through the REST API; Twilio stops the stream
        session.call_tool("end_call", {"reason": "done"})
        await sim.wait_for(caller.closed.is_set, timeout=15)
    record = await env.record(sim.call_sid)
    assert record.end_reason.startswith("agent hung up")
    assert record.events_of("dtmf")[0].data == {"digit": "5"}
    (update,) = env.api.requests_of("update")
    assert update.path == f"/2010-04-01/Accounts/{env.api.account_sid}/Calls/{sim.call_sid}.json"
    assert update.form == [("Status", "completed")] and update.auth_ok and update.status == 200
    assert caller.protocol_errors == []  # every frame the server sent had Twilio's exact shape
    assert set(caller.marks_sent_back) >= {"item_2"} or caller.marks_sent_back  # marks were echoed
    await env.wait(lambda: any(e.outcome is CallOutcome.COMPLETED for e in env.statuses_of(sim.call_sid)))
    assert env.api.calls[sim.call_sid].statuses == ["completed"]


async def test_pipeline_mode_inbound_call(make_env) -> None:  # type: ignore[no-untyped-def]
    stt = FakeSTT(["what time do you open", "thanks bye"])
    llm = FakeLLM([["We open at nine."], ["Goodbye!", ToolCall("end_call", {"reason": "caller is done"})]])
    tts = FakeTTS()
    agent = {"stt": stt, "llm": llm, "tts": tts, "vad": FakeVAD(), "first_message": "Hi, thanks for calling."}
    async with make_env(engine=None, agent=agent) as env:
        async with env.caller() as sim:
            await sim.wait_for(lambda: sim.heard_ms >= 300)
            await env.wait(lambda: not env.session(sim.call_sid).player.speaking)
            await sim.say(voice(600, MULAW_8K) + silence(400, MULAW_8K))
            await env.wait(lambda: "We open at nine." in tts.texts)
            assert len(stt.stream.audio) > 0
            await env.wait(lambda: not env.session(sim.call_sid).player.speaking, timeout=15)
            await sim.say(voice(600, MULAW_8K) + silence(400, MULAW_8K))
            await sim.wait_for(sim.live.closed.is_set, timeout=15)
        record = await env.record(sim.call_sid)
    assert tts.texts[:3] == ["Hi, thanks for calling.", "We open at nine.", "Goodbye!"]
    assert tts.formats[0] == MULAW_8K  # the TTS speaks Twilio's wire format: no transcoding
    assert all(size == 160 for size in sim.live.frame_sizes)
    assert record.text_of("caller") == ["what time do you open", "thanks bye"]
    assert [r.form for r in env.api.requests_of("update")] == [[("Status", "completed")]]
