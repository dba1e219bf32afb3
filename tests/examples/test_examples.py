"""Every module in ``examples/`` runs here, as a whole phone call: the real server, the core's fake
carrier and its simulator, a caller speaking synthesised speech in real time -- and, for examples
that use hosted vendors, the vendors' own fakes (``patter_openai.testing``, ``patter_deepgram.testing``,
``patter_elevenlabs.testing``) standing in for the services. The local models load once per process;
the calls run in real time, so each script is one or two lines."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from patter_core.audio import MULAW_8K
from patter_core.guardrails import check_all
from patter_core.hookspecs import hookimpl
from patter_core.interfaces.carrier import CallOutcome
from patter_core.phone import Patter
from patter_core.plugins import make_plugin_manager
from patter_core.registry import Registry
from patter_core.session.record import CallRecord
from patter_core.testing import (
    FakeCallerDialect,
    FakeCarrier,
    FakeCarrierSimulator,
    SimulatedCaller,
    caller_voice,
    sign_fake_webhook,
    simulate_call,
    speak_text,
    warm_up,
)

pytest.importorskip("patter_local")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.py") if not p.stem.startswith("_"))


class SimulatedCarrierPlugin:
    @hookimpl
    def register_carriers(self, register):
        register(FakeCarrier, name="fake", simulator=FakeCarrierSimulator)


@pytest.fixture(scope="module", autouse=True)
def examples_on_path() -> Iterator[None]:
    """``examples`` is imported from the repository root, as ``patter-core serve`` does from the cwd."""
    sys.path.insert(0, str(ROOT))
    try:
        yield
    finally:
        sys.path.remove(str(ROOT))


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(make_plugin_manager(extra_plugins=[("sim", SimulatedCarrierPlugin())]))


REQUIRES = {
    "engine_realtime": ["patter_openai"],
    "cloud_pipeline": ["patter_deepgram", "patter_openai", "patter_elevenlabs"],
}
"""Plugins an example needs beyond patter-local (its test is skipped when one is not installed)."""


def example(name: str) -> ModuleType:
    for plugin in REQUIRES.get(name, []):
        pytest.importorskip(plugin)
    return importlib.import_module(f"examples.{name}")


def test_every_example_is_covered_here() -> None:
    source = Path(__file__).read_text()
    assert EXAMPLES and all(f'example("{name}")' in source for name in EXAMPLES), EXAMPLES


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_imports_and_declares_its_api(name: str) -> None:
    module = example(name)
    assert module.__doc__ and f"patter-core serve examples.{name}:make_agent" in module.__doc__
    assert module.__all__ and all(hasattr(module, attr) for attr in module.__all__)
    assert callable(module.make_agent)


async def test_engine_realtime_hello_world(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    from patter_openai.testing import FakeRealtimeServer, FakeReply, FakeToolCall

    module = example("engine_realtime")
    bye = FakeReply(text="Goodbye!", tool_calls=[FakeToolCall("end_call", '{"reason": "caller is done"}')])
    async with FakeRealtimeServer(
        speech_detection=True, replies=[bye], caller_transcripts=["That's all. Bye!"]
    ) as fake:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)  # the plugin's documented override
        agent = module.make_agent(Patter(registry=registry))
        result = await simulate_call(
            agent, ["That's all, thank you. Bye!"], carrier="fake", registry=registry
        )
    assert result.hung_up_by_agent and result.record.end_reason == "agent hung up: caller is done"
    assert fake.invalid_events == []  # every event the engine sent was valid GA Realtime
    session = fake.connections[0].session
    assert session["instructions"] == module.SYSTEM_PROMPT
    assert {t["name"] for t in session["tools"]} == {"end_call", "transfer_call"}
    greetings = [e for e in fake.client_events if e.get("type") == "response.create"]
    assert module.FIRST_MESSAGE in greetings[0]["response"]["instructions"]


async def test_receptionist_books_an_appointment_and_hangs_up(registry: Registry) -> None:
    module = example("receptionist")
    agent = module.make_agent(Patter(registry=registry))
    await warm_up(agent)
    before = len(module.CALENDAR.bookings)
    result = await simulate_call(
        agent,
        ["I'd like to book a haircut on Tuesday at three pm.", "No, that's all. Goodbye."],
        carrier="fake",
        registry=registry,
    )
    assert "book_appointment" in result.tool_calls and result.hung_up_by_agent
    booking = module.CALENDAR.bookings[before]
    assert (booking.day, booking.service) == ("Tuesday", "haircut") and booking.time.startswith("15")
    output = result.record.events_of("tool_result")[0].data["output"]
    assert output.startswith("Booked a haircut on Tuesday") and booking.reference in output
    assert result.record.text_of("agent")[0] == module.FIRST_MESSAGE


async def test_receptionist_transfers_only_where_it_is_allowed(registry: Registry) -> None:
    module = example("receptionist")
    agent = module.make_agent(Patter(registry=registry))
    result = await simulate_call(
        agent, ["Can I speak to the manager, please?"], carrier="fake", registry=registry, hangup_timeout_s=5
    )
    transfer = result.record.events_of("transfer")[0]
    assert transfer.data["to"] == "+15550100001" and result.record.end_reason == "transferred to +15550100001"
    blocked = await check_all(agent.guardrails, "Ask about our discount for students.")
    assert blocked.blocked and blocked.text == "Our front desk can help you with prices and offers."


async def test_on_message_bot_streams_its_own_reply(registry: Registry) -> None:
    module = example("on_message_bot")
    assert (
        module.find_order_number("it's 1, 2, 3, 4.") == "1234" and module.find_order_number("hello") is None
    )
    agent = module.make_agent(Patter(registry=registry))
    assert agent.mode == "pipeline" and agent.llm is None
    result = await simulate_call(
        agent,
        ["Where is my order? It is one two three four."],
        carrier="fake",
        registry=registry,
        hangup_timeout_s=0.5,
    )
    said = " ".join(result.record.text_of("agent"))
    assert "Let me check order 1 2 3 4." in said and "shipped yesterday and arrives on Thursday" in said
    assert result.record.end_reason == "caller hung up"


async def test_outbound_reminder_leaves_a_voicemail_on_a_machine(registry: Registry) -> None:
    module = example("outbound_reminder")
    records: list[CallRecord] = []
    async with FakeCarrierSimulator(webhook_host="agent.patter.test") as simulator:
        carrier = simulator.carrier
        phone = Patter(
            carrier=carrier,
            phone_number="+15550002222",
            webhook_url=simulator.webhook_host,
            registry=registry,
        )
        agent = module.make_agent(phone, customer="Alex")
        serving = asyncio.create_task(
            phone.serve(agent, host="127.0.0.1", port=0, on_call_end=records.append)
        )
        await phone.wait_ready()
        try:
            reminding = asyncio.create_task(module.remind(phone, "+15557654321", agent, timeout_s=60))
            for _ in range(200):
                if carrier.placed:
                    break
                await asyncio.sleep(0.01)
            placed, call_id = carrier.placed[0], "CAout1"
            assert placed.machine_detection and placed.to == "+15557654321" and placed.from_ == "+15550002222"
            # the call is answered: the carrier asks the server for the call's media, as for any call
            body = json.dumps({"call_id": call_id, "from": "+15550002222", "to": "+15557654321"}).encode()
            async with httpx.AsyncClient() as client:
                answer = await client.post(
                    f"http://127.0.0.1:{phone.port}/webhooks/fake/voice",
                    content=body,
                    headers={"X-Fake-Signature": sign_fake_webhook(carrier.secret, body)},
                )
            url = f"ws://127.0.0.1:{phone.port}/ws/fake/stream/{call_id}"
            async with SimulatedCaller(url, FakeCallerDialect(call_id, answer.json()["token"])) as machine:
                await machine.wait_for(lambda: machine.heard_ms >= 300, timeout=20)  # the greeting plays
                carrier.answer(call_id, machine=True)  # ... to an answering machine
                result = await asyncio.wait_for(reminding, 60)
        finally:
            await phone.stop()
            await asyncio.wait_for(serving, 20)
    assert result.outcome is CallOutcome.VOICEMAIL
    assert result.record.end_reason == "agent hung up: voicemail left"
    assert module.voicemail_for("Alex", "tomorrow at 3 PM") in result.record.text_of("agent")
    assert carrier.hangups and carrier.hangups[-1][0] == call_id


@contextlib.asynccontextmanager
async def reservations_service(secret: str) -> AsyncIterator[tuple[str, list[dict[str, object]]]]:
    from patter_core.server.runner import bind_socket, run_hypercorn

    module = example("webhook_tool")
    app = module.create_reservations_app(secret)
    sock = bind_socket("127.0.0.1", 0)
    stop = asyncio.Event()
    task = asyncio.create_task(run_hypercorn(app, sock, shutdown=stop))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/patter/book-table"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    await client.get(url)
                    break
                await asyncio.sleep(0.02)
        yield url, app.config["bookings"]
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_webhook_tool_books_through_the_signed_service(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = example("webhook_tool")
    secret = "test-webhook-secret-0123456789abcdef"
    monkeypatch.setenv("PATTER_WEBHOOK_SECRET", secret)  # the signing secret both sides share
    async with reservations_service(secret) as (url, bookings):
        async with httpx.AsyncClient() as client:  # the service refuses unsigned and mis-signed requests
            unsigned = await client.post(url, content=b'{"tool": "book_table"}')
            forged = await client.post(
                url, content=b"{}", headers={"X-Patter-Timestamp": "1", "X-Patter-Signature": "v1=00"}
            )
        assert unsigned.status_code == forged.status_code == 401 and bookings == []
        tool = module.book_table_tool(url, allow_private=True)
        assert tool.parameters == module.TABLE_SCHEMA and tool.name == "book_table"
        agent = module.make_agent(Patter(registry=registry), reservations_url=url, allow_private=True)
        result = await simulate_call(
            agent,
            ["I'd like to book a table for Friday at seven thirty pm."],
            carrier="fake",
            registry=registry,
            hangup_timeout_s=0.5,
        )
    assert len(bookings) == 1 and bookings[0]["day"] == "Friday" and bookings[0]["caller"] == "+15550001111"
    output = result.record.events_of("tool_result")[0].data["output"]
    assert output.startswith("Table for 2 booked on Friday") and "reference T100" in output


async def _speech(registry: Registry, text: str) -> bytes:
    return await speak_text(caller_voice(registry), text, MULAW_8K)


async def test_cloud_pipeline_on_the_vendor_fakes(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patter_deepgram.testing import FakeDeepgramServer, Utterance
    from patter_elevenlabs.testing import FakeElevenLabsTTSServer
    from patter_openai.testing import ChatScript, FakeOpenAIHTTP, FakeToolCall

    module = example("cloud_pipeline")
    question = "What time do you open on Saturday?"
    answer = "On Saturday we're open from 9 AM to 6 PM. Anything else?"
    for key, value in {
        "DEEPGRAM_API_KEY": "test-key",
        "ELEVENLABS_API_KEY": "test-key",
        "OPENAI_API_KEY": "sk-test",
    }.items():
        monkeypatch.setenv(key, value)
    line = await _speech(registry, question)
    records: list[CallRecord] = []
    async with (
        FakeDeepgramServer() as deepgram,
        FakeOpenAIHTTP() as openai,
        FakeElevenLabsTTSServer() as eleven,
    ):
        openai.script_chat(
            ChatScript(tool_calls=[FakeToolCall("opening_hours", '{"day": "saturday"}')]),
            ChatScript(text=answer),
        )
        urls = {"deepgram": deepgram.base_url, "openai": openai.base_url, "elevenlabs": eleven.base_url}
        async with FakeCarrierSimulator(webhook_host="agent.patter.test") as simulator:
            phone = Patter(carrier=simulator.carrier, webhook_url=simulator.webhook_host, registry=registry)
            agent = module.make_agent(phone, base_urls=urls)
            serving = asyncio.create_task(
                phone.serve(agent, host="127.0.0.1", port=0, on_call_end=records.append)
            )
            await phone.wait_ready()
            try:
                caller = await simulator.call(f"http://127.0.0.1:{phone.port}")
                await caller.wait_for(lambda: caller.heard_ms > 0, timeout=15)
                await caller.wait_silence(quiet_ms=800, timeout=30)  # the greeting has played
                # Deepgram "hears" the question as it arrives; its final result waits for the session's
                # Finalize, which the VAD sends at the end of the caller's speech
                deepgram.script.append(
                    Utterance(question, at_ms=deepgram.audio_ms + 300, wait_for_finalize=True)
                )
                heard = caller.heard_ms
                await caller.say(line)
                await caller.wait_for(lambda: caller.heard_ms > heard + 1000, timeout=20)
                await caller.wait_silence(quiet_ms=800, timeout=30)
                await caller.hang_up()
                for _ in range(200):
                    if records:
                        break
                    await asyncio.sleep(0.05)
            finally:
                await phone.stop()
                await asyncio.wait_for(serving, 20)
    record = records[0]
    assert record.text_of("caller") == [question]
    assert answer in " ".join(record.text_of("agent"))
    assert record.events_of("tool_result")[0].data["output"] == "Open on Saturday from 9 AM to 6 PM."
    request = openai.requests[0].json()
    assert request["messages"][0] == {"role": "system", "content": module.SYSTEM_PROMPT}
    assert {t["function"]["name"] for t in request["tools"]} == {"opening_hours", "transfer_call", "end_call"}
    assert deepgram.connections[0].query["encoding"] == ["mulaw"]  # the carrier's audio, untouched
    spoken = " ".join(t.strip() for t in eleven.texts)  # ElevenLabs voiced every sentence, in order
    assert spoken.startswith(module.FIRST_MESSAGE) and answer in spoken
