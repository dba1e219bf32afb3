"""Tool calls: delivered after a completed response.done only; results flow back in the right order."""

from __future__ import annotations

import asyncio
import json

from patter_openai.testing import FakeRealtimeServer, FakeReply, FakeToolCall

from patter_core.interfaces.engine import (
    AgentAudio,
    EngineError,
    ResponseDone,
    ResponseStarted,
    ToolCallRequested,
)


def client_types(fake: FakeRealtimeServer) -> list[str]:
    return [e["type"] for e in fake.client_events if e["type"] != "input_audio_buffer.append"]


async def test_tool_call_is_delivered_after_completed_response_done(
    fake_rt: FakeRealtimeServer, connect
) -> None:
    _, events = await connect(fake_rt)
    fake_rt.script(
        FakeReply(
            text="Let me transfer you.",
            audio_ms=200,
            tool_calls=[FakeToolCall("transfer_call", '{"number":"+15551234567"}', "call_abc")],
        )
    )
    await fake_rt.caller_turn("Transfer me")
    [call] = await events.wait_for(ToolCallRequested)
    assert call == ToolCallRequested("call_abc", "transfer_call", '{"number":"+15551234567"}')
    kinds = [type(e) for e in events.events]
    assert kinds.index(ResponseDone) < kinds.index(ToolCallRequested)  # not at arguments.done
    # the fake sent arguments.done before response.done; the session held it back
    server = [e["type"] for _, e in fake_rt.server_events]
    assert server.index("response.function_call_arguments.done") < server.index("response.done")


async def test_tool_calls_of_cancelled_responses_are_not_run(fake_rt: FakeRealtimeServer, connect) -> None:
    session, events = await connect(fake_rt)
    fake_rt.script(
        FakeReply(tool_calls=[FakeToolCall("end_call", "{}")], status="cancelled"),
        FakeReply(tool_calls=[FakeToolCall("end_call", "{}")], status="incomplete"),
        FakeReply(text="ok", audio_ms=100),
    )
    for n in range(1, 4):
        await fake_rt.caller_turn("bye")
        done = await events.wait_for(ResponseDone, count=n)
    assert [d.status for d in done] == ["cancelled", "incomplete", "completed"]
    assert events.of(ToolCallRequested) == []
    # and their results cannot be sent for them
    await session.send_tool_result("whatever", "{}")
    assert fake_rt.events_of("conversation.item.create") == []


async def test_tool_result_then_response_create(fake_rt: FakeRealtimeServer, connect) -> None:
    session, events = await connect(fake_rt)
    fake_rt.script(
        FakeReply(tool_calls=[FakeToolCall("transfer_call", '{"number":"+1"}', "call_1")]),
        FakeReply(text="Transferring you now.", audio_ms=100),
    )
    await fake_rt.caller_turn("Transfer me")
    [call] = await events.wait_for(ToolCallRequested)
    await session.send_tool_result(call.call_id, json.dumps({"status": "transferring"}))
    await events.wait_for(ResponseDone, count=2)
    assert client_types(fake_rt)[-2:] == ["conversation.item.create", "response.create"]
    item = fake_rt.events_of("conversation.item.create")[0]
    assert item["item"] == {
        "type": "function_call_output",
        "call_id": "call_1",
        "output": '{"status": "transferring"}',
    }
    assert "response" not in fake_rt.events_of("response.create")[-1]
    assert not events.of(EngineError) and fake_rt.invalid_events == []


async def test_parallel_calls_get_one_response_create(fake_rt: FakeRealtimeServer, connect) -> None:
    session, events = await connect(fake_rt)
    fake_rt.script(
        FakeReply(tool_calls=[FakeToolCall("a", "{}", "call_a"), FakeToolCall("b", "{}", "call_b")])
    )
    await fake_rt.caller_turn("Do two things")
    calls = await events.wait_for(ToolCallRequested, count=2)
    assert [c.call_id for c in calls] == ["call_a", "call_b"]
    await session.send_tool_result("call_a", "A")
    assert fake_rt.events_of("response.create") == []  # call_b still running
    await session.send_tool_result("call_b", "B")
    await fake_rt.wait_for("response.create")
    assert client_types(fake_rt)[-3:] == [
        "conversation.item.create",
        "conversation.item.create",
        "response.create",
    ]


async def test_response_create_waits_for_the_active_response(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=1.0, chunk_ms=20) as fake:
        session, events = await connect(fake)
        fake.script(FakeReply(tool_calls=[FakeToolCall("lookup", "{}", "call_1")]))
        fake.pace = 0
        await fake.caller_turn("Look it up")
        [call] = await events.wait_for(ToolCallRequested)
        # the caller speaks again and a response is on its way when the tool finishes
        fake.pace = 1.0
        fake.script(FakeReply(text="Hmm", audio_ms=300))
        await session.say("One moment please")
        await events.wait_for(AgentAudio)
        await session.send_tool_result(call.call_id, "found it")
        await asyncio.sleep(0.05)
        creates = fake.events_of("response.create")
        assert len(creates) == 1  # only the say(); the follow-up waits
        await events.wait_for(ResponseDone, count=3)
        creates = fake.events_of("response.create")
        assert len(creates) == 2 and "response" not in creates[1]
        assert not [e for e in fake.errors_sent if e["code"] == "conversation_already_has_active_response"]


async def test_follow_up_waits_for_a_server_response_in_progress(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=0) as fake:
        session, events = await connect(fake)
        fake.script(FakeReply(tool_calls=[FakeToolCall("lookup", "{}", "call_1")]))
        await fake.caller_turn("Look it up")
        [call] = await events.wait_for(ToolCallRequested)
        fake.pace = 1.0
        fake.script(FakeReply(text="Hmm", audio_ms=200), FakeReply(text="Found it.", audio_ms=100))
        await fake.caller_turn("hello?")  # the service answers the caller before the tool is done
        await events.wait_for(ResponseStarted, count=2)
        await session.send_tool_result(call.call_id, "found it")
        assert fake.events_of("response.create") == []
        done = await events.wait_for(ResponseDone, count=3)  # the follow-up went out after that response
        assert [d.status for d in done] == ["completed"] * 3
        assert len(fake.events_of("response.create")) == 1
        assert not [e for e in fake.errors_sent if e["code"] == "conversation_already_has_active_response"]


async def test_follow_up_is_not_covered_by_a_response_requested_before_the_output(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=0) as fake:
        session, events = await connect(fake)
        fake.script(FakeReply(tool_calls=[FakeToolCall("lookup", "{}", "call_1")]))
        await fake.caller_turn("Look it up")
        [call] = await events.wait_for(ToolCallRequested)
        fake.pace = 1.0
        await session.say("One moment")  # requested, not started yet...
        await session.send_tool_result(call.call_id, "found it")  # ...so this output comes after it
        done = await events.wait_for(ResponseDone, count=3)
        creates = fake.events_of("response.create")
        assert len(creates) == 2 and "response" in creates[0] and "response" not in creates[1]
        assert [d.status for d in done] == ["completed"] * 3


async def test_a_response_created_after_the_output_answers_it(fake_rt: FakeRealtimeServer, connect) -> None:
    session, events = await connect(fake_rt)
    fake_rt.script(FakeReply(tool_calls=[FakeToolCall("lookup", "{}", "call_1")]))
    await fake_rt.caller_turn("Look it up")
    [call] = await events.wait_for(ToolCallRequested)
    session.requested["held"] = None  # pretend a response.create of ours is in flight: busy
    await session.send_tool_result(call.call_id, "found it")
    assert session.followup_pending
    await fake_rt.wait_for("conversation.item.create")
    await asyncio.sleep(0.05)  # conversation.item.added arrives
    session.requested.clear()
    await fake_rt.caller_turn("and?")  # server VAD response, created after the output was added
    await events.wait_for(ResponseDone, count=2)
    assert not session.followup_pending
    assert fake_rt.events_of("response.create") == []


async def test_conflict_on_say_is_retried_after_response_done(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=1.0, chunk_ms=20) as fake:
        session, events = await connect(fake)
        fake.script(FakeReply(text="Server turn", audio_ms=600))
        # the race: a server-VAD response starts while our say() is on its way; the session sees the
        # service's events only after it sent response.create (messages held back, then released in order)
        dispatcher = session._dispatch
        original = dispatcher.handle
        held: list[str | bytes] = []

        async def hold(raw: str | bytes) -> None:
            held.append(raw)

        dispatcher.handle = hold
        await fake.caller_turn("hi")
        await session.say("Queued greeting")
        await fake.wait_for("response.create")
        await asyncio.sleep(0.05)  # the service refuses it: conflict
        dispatcher.handle = original
        for raw in held:  # response.created (the server's) first, then the error for ours
            await original(raw)
        [error] = await events.wait_for(EngineError)
        assert error.code == "conversation_already_has_active_response"
        done = await events.wait_for(ResponseDone, count=2, timeout=5)
        assert [d.status for d in done] == ["completed", "completed"]
        creates = fake.events_of("response.create")
        assert len(creates) == 2 and creates[0]["response"] == creates[1]["response"]
        assert "Queued greeting" in creates[1]["response"]["instructions"]


async def test_failed_tool_result_is_marked_as_an_error(fake_rt: FakeRealtimeServer, connect) -> None:
    session, events = await connect(fake_rt)
    fake_rt.script(FakeReply(tool_calls=[FakeToolCall("lookup", "{}", "call_1")]))
    await fake_rt.caller_turn("Look it up")
    [call] = await events.wait_for(ToolCallRequested)
    await session.send_tool_result(call.call_id, "lookup timed out after 5 s", is_error=True)
    [item] = await fake_rt.wait_for("conversation.item.create")
    assert json.loads(item["item"]["output"]) == {"error": "lookup timed out after 5 s"}
    await fake_rt.wait_for("response.create")


async def test_send_text_adds_a_user_message_and_asks_for_a_response(connect) -> None:
    async with FakeRealtimeServer(api_key="sk-test-key", pace=1.0, chunk_ms=20) as fake:
        session, events = await connect(fake)
        await session.send_text("The caller pressed 1")
        await events.wait_for(ResponseDone)
        assert client_types(fake)[-2:] == ["conversation.item.create", "response.create"]
        assert fake.events_of("conversation.item.create")[0]["item"] == {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "The caller pressed 1"}],
        }
        # while the agent speaks, the response waits for the one in progress
        await session.say("Let me check that for you")
        await events.wait_for(AgentAudio, count=len(events.of(AgentAudio)) + 1)
        await session.send_text("The caller pressed 2")
        await asyncio.sleep(0.05)
        assert len(fake.events_of("response.create")) == 2
        done = await events.wait_for(ResponseDone, count=3)
        assert [d.status for d in done] == ["completed"] * 3
        assert len(fake.events_of("response.create")) == 3 and fake.invalid_events == []
