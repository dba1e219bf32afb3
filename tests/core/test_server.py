"""The real server (quart + hypercorn on a loopback port) with the core's fake carrier."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect

from patter_core.audio import MULAW_8K
from patter_core.hookspecs import hookimpl
from patter_core.phone import Patter
from patter_core.plugins import make_plugin_manager
from patter_core.registry import Registry
from patter_core.session.record import CallRecord
from patter_core.testing import FakeCarrier, FakeEngine, sign_fake_webhook, voice


class Served:
    def __init__(
        self, phone: Patter, carrier: FakeCarrier, engine: FakeEngine, records: list[CallRecord]
    ) -> None:
        self.phone, self.carrier, self.engine, self.records = phone, carrier, engine, records

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.phone.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.phone.port}"

    async def webhook(self, call_id: str, *, secret: str | None = None) -> httpx.Response:
        body = json.dumps({"call_id": call_id, "from": "+15550001111", "to": "+15550002222"}).encode()
        signature = sign_fake_webhook(secret or self.carrier.secret, body)
        async with httpx.AsyncClient() as client:
            return await client.post(
                f"{self.base}/webhooks/fake/voice",
                content=body,
                headers={"X-Fake-Signature": signature, "Content-Type": "application/json"},
            )


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    carrier = FakeCarrier()
    engine = FakeEngine()

    class Plugin:
        @hookimpl
        def register_carriers(self, register):
            register(lambda: carrier, name="fake")

    registry = Registry(make_plugin_manager(load_entrypoints=False, extra_plugins=[("test", Plugin())]))
    phone = Patter(carrier="fake", phone_number="+15550002222", webhook_url="agent.test", registry=registry)
    agent = phone.agent(system_prompt="hi", engine=engine, first_message="Hello from the server.")
    records: list[CallRecord] = []
    task = asyncio.create_task(phone.serve(agent, host="127.0.0.1", port=0, on_call_end=records.append))
    await phone.wait_ready()
    yield Served(phone, carrier, engine, records)
    await phone.stop()
    await asyncio.wait_for(task, 20)


async def test_health(served: Served) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{served.base}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["active_calls"] == 0


async def test_webhook_signatures(served: Served) -> None:
    forged = await served.webhook("CA1", secret="not-the-secret")
    assert forged.status_code == 403
    async with httpx.AsyncClient() as client:
        unsigned = await client.post(f"{served.base}/webhooks/fake/voice", content=b"{}")
        malformed = await client.post(
            f"{served.base}/webhooks/fake/voice",
            content=b"{not json",
            headers={"X-Fake-Signature": sign_fake_webhook(served.carrier.secret, b"{not json")},
        )
        huge = await client.post(f"{served.base}/webhooks/fake/voice", content=b"x" * (512 * 1024))
    assert unsigned.status_code == 403
    assert malformed.status_code == 400
    assert huge.status_code == 413
    ok = await served.webhook("CA1")
    assert ok.status_code == 200
    data = ok.json()
    assert data["stream_url"] == "wss://agent.test/ws/fake/stream/CA1" and data["token"].startswith("v1.")


async def test_unauthenticated_media_socket_is_closed_before_any_provider(served: Served) -> None:
    token = (await served.webhook("CA2")).json()["token"]
    for start in (
        {"event": "start", "call_id": "CA2", "token": "v1.forged.token"},
        {"event": "start", "call_id": "CA2", "token": token.replace("v1.", "v1.x")},
        {"event": "start", "call_id": "CA3", "token": token},  # a token for another call
    ):
        async with connect(f"{served.ws_base}/ws/fake/stream/{start['call_id']}") as ws:
            await ws.send(json.dumps(start))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert served.engine.sessions == []  # no provider was contacted
    assert served.carrier.rejected_streams == 3


async def test_full_call_over_the_media_socket(served: Served) -> None:
    token = (await served.webhook("CA10")).json()["token"]
    async with connect(f"{served.ws_base}/ws/fake/stream/CA10") as ws:
        await ws.send(json.dumps({"event": "start", "call_id": "CA10", "token": token}))
        await ws.send("this is not json")  # malformed frames are dropped, the call goes on
        await ws.send(json.dumps({"event": "media", "payload": "***not base64***"}))
        frames: list[bytes] = []
        marks: list[str] = []
        while len(frames) < 20:
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if message["event"] == "media":
                frames.append(base64.b64decode(message["payload"]))
            elif message["event"] == "mark":
                marks.append(message["name"])
                await ws.send(json.dumps({"event": "mark", "name": message["name"]}))
        assert all(len(f) == 160 for f in frames)
        caller = voice(200, MULAW_8K)
        for i in range(0, len(caller), 160):
            await ws.send(
                json.dumps({"event": "media", "payload": base64.b64encode(caller[i : i + 160]).decode()})
            )
        await ws.send(json.dumps({"event": "dtmf", "digit": "7"}))
        session = served.engine.session
        for _ in range(200):
            if len(session.audio_in) >= len(caller):
                break
            await asyncio.sleep(0.01)
        assert bytes(session.audio_in) == caller
        assert served.phone.active_calls == 1
        await ws.send(json.dumps({"event": "stop"}))
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    for _ in range(200):
        if served.records:
            break
        await asyncio.sleep(0.01)
    record = served.records[0]
    assert record.call.call_id == "CA10" and record.call.caller == "+15550001111"
    assert record.end_reason == "caller hung up"
    assert record.events_of("dtmf")[0].data == {"digit": "7"}
    assert marks  # the session placed marks for playback tracking
    assert served.phone.active_calls == 0


async def test_second_stream_for_a_live_call_is_refused(served: Served) -> None:
    token = (await served.webhook("CA20")).json()["token"]
    async with connect(f"{served.ws_base}/ws/fake/stream/CA20") as first:
        await first.send(json.dumps({"event": "start", "call_id": "CA20", "token": token}))
        await asyncio.wait_for(first.recv(), 5)  # the greeting is flowing
        async with connect(f"{served.ws_base}/ws/fake/stream/CA20") as second:
            await second.send(json.dumps({"event": "start", "call_id": "CA20", "token": token}))
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(second.recv(), 5)
        assert len(served.engine.sessions) == 1


async def test_graceful_shutdown_ends_active_calls(served: Served) -> None:
    token = (await served.webhook("CA30")).json()["token"]
    async with connect(f"{served.ws_base}/ws/fake/stream/CA30") as ws:
        await ws.send(json.dumps({"event": "start", "call_id": "CA30", "token": token}))
        await asyncio.wait_for(ws.recv(), 5)
        await served.phone.stop()
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert served.records and served.records[0].end_reason == "server shutdown"
    assert served.engine.session.closed


async def test_simulated_caller_barge_in_over_the_real_socket(served: Served) -> None:
    from patter_core.testing import FakeCallerDialect, SimulatedCaller

    token = (await served.webhook("CA40")).json()["token"]
    url = f"{served.ws_base}/ws/fake/stream/CA40"
    async with SimulatedCaller(url, FakeCallerDialect("CA40", token)) as caller:
        await caller.wait_for(lambda: caller.heard_ms >= 600)  # the greeting is heard in real time
        session = served.engine.session
        item = await session.speak("one two three four five six seven eight nine ten")
        await caller.wait_for(lambda: caller.heard_ms >= 1200)
        session.caller_starts()
        await caller.wait_for(lambda: caller.clears == 1)
        await caller.wait_for(lambda: session.truncations != [])
        (truncated_item, heard_ms) = session.truncations[0]
        assert truncated_item == item
        # the position comes from marks the caller echoed after playback: never more than it heard
        greeting_ms = 4 * 200  # "Hello from the server." at the fake engine's 200 ms per word
        assert 0 < heard_ms <= caller.heard_ms - greeting_ms
        assert all(size == 160 for size in caller.frame_sizes)
        await caller.hang_up()
    assert caller.protocol_errors == []


async def test_outbound_call_to_a_machine_leaves_the_voicemail_in_the_agents_voice(served: Served) -> None:
    from patter_core.testing import FakeCallerDialect, SimulatedCaller

    outbound = await served.phone.call(
        "+15557654321", voicemail_message="Hi, this is the clinic. Please call us back."
    )
    assert served.carrier.placed[0].machine_detection and served.carrier.placed[0].to == "+15557654321"
    token = (await served.webhook(outbound.call_id)).json()["token"]
    url = f"{served.ws_base}/ws/fake/stream/{outbound.call_id}"
    async with SimulatedCaller(url, FakeCallerDialect(outbound.call_id, token)) as machine:
        await machine.wait_for(lambda: machine.heard_ms >= 200)
        served.carrier.answer(outbound.call_id, machine=True)
        outcome = await outbound.outcome(timeout=5)
        assert outcome.outcome.value == "voicemail"
        record = await outbound.record(timeout=15)
    assert "Hi, this is the clinic. Please call us back." in served.engine.session.said
    assert record.end_reason == "agent hung up: voicemail left"
    assert served.carrier.hangups and served.carrier.hangups[-1][0] == outbound.call_id


async def test_outbound_status_reported_before_place_call_returns_is_not_lost(served: Served) -> None:
    from patter_core.interfaces.carrier import CallOutcome, CallStatusEvent

    placed = served.carrier.place_call

    async def busy_at_once(request, host):  # the carrier's callback beat its own API response
        call_id = await placed(request, host)
        host.report_status(CallStatusEvent(call_id=call_id, status="busy", outcome=CallOutcome.BUSY))
        await asyncio.sleep(0.05)
        return call_id

    served.carrier.place_call = busy_at_once  # type: ignore[method-assign]
    outbound = await served.phone.call("+15557654321")
    outcome = await outbound.outcome(timeout=5)
    assert outcome.outcome is CallOutcome.BUSY
    assert served.phone._host is not None and outbound.call_id not in served.phone._host._unwatched_status


async def test_a_machine_verdict_before_the_stream_is_acted_on_once_the_session_speaks(
    served: Served,
) -> None:
    from patter_core.interfaces.carrier import CallOutcome
    from patter_core.testing import FakeCallerDialect, SimulatedCaller

    outbound = await served.phone.call("+15557654321", voicemail_message="Please call the clinic back.")
    served.carrier.answer(outbound.call_id, machine=True)  # synchronous detection: before any stream
    assert (await outbound.outcome(timeout=5)).outcome is CallOutcome.VOICEMAIL  # reported at once
    token = (await served.webhook(outbound.call_id)).json()["token"]
    url = f"{served.ws_base}/ws/fake/stream/{outbound.call_id}"
    async with SimulatedCaller(url, FakeCallerDialect(outbound.call_id, token)) as machine:
        record = await outbound.record(timeout=15)
        assert machine.heard_ms > 0
    assert served.engine.session.said == ["Please call the clinic back."]  # once, in the agent's voice
    assert record.end_reason == "agent hung up: voicemail left"
    kinds = [event.type for event in record.events]
    # held until the engine was connected and the greeting had begun, which the message then cut short
    assert kinds.index("engine_connected") < kinds.index("voicemail") < kinds.index("hangup")
    assert any(e.type == "barge_in" and e.data.get("source") == "say" for e in record.events)
