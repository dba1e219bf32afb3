"""The media WebSocket on the real server: per-call authentication before anything else, malformed
frames dropped while the call goes on, out-of-order chunks reordered, voicemail verdicts that beat the stream."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import AsyncIterator

import numpy as np
import pytest
import websockets
from patter_telnyx.paths import encode_call_id
from patter_telnyx.testing import Callee, SimCall, TelnyxCallerDialect, TelnyxSimulator
from websockets.asyncio.client import ClientConnection, connect

from patter_core.audio import PCM16_16K
from patter_core.interfaces.carrier import CallOutcome
from patter_core.testing import FakeEngine

from .conftest import Served, ServeFactory, until


async def pending_stream(sim: TelnyxSimulator) -> tuple[SimCall, str, str]:
    """An answered call whose streaming_start was recorded but not connected: (call, local url, token)."""
    sim.auto_connect_media = False
    call = await sim.incoming_call()
    await until(lambda: call.stream_params is not None, what="streaming_start")
    assert call.stream_params is not None
    return (
        call,
        sim.local_stream_url(call.stream_params["stream_url"]),
        call.stream_params["stream_auth_token"],
    )


@contextlib.asynccontextmanager
async def raw(url: str, token: str | None = None) -> AsyncIterator[ClientConnection]:
    headers = {"x-telnyx-streaming-auth-token": token} if token else {}
    async with connect(url, additional_headers=headers) as ws:
        drain = asyncio.create_task(_drain(ws))
        try:
            yield ws
        finally:
            drain.cancel()


async def _drain(ws: ClientConnection) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for _ in ws:
            pass


async def closed_code(ws: ClientConnection) -> int | None:
    await asyncio.wait_for(ws.wait_closed(), 5)
    return ws.close_code


async def test_unauthenticated_streams_are_closed_before_any_provider(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    served = await serve()
    call, url, token = await pending_stream(sim)
    other, _, other_token = await pending_stream(sim)
    dialect = TelnyxCallerDialect(call.call_control_id)

    # a wrong header is refused at the upgrade (HTTP 403): the socket never opens
    for bad in ("v1.forged.token", other_token, token + "x"):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with raw(url, bad):
                pass
        assert refused.value.response.status_code == 403
    # an unknown path segment is refused too
    with pytest.raises(websockets.InvalidStatus):
        async with raw(url.rsplit("/", 1)[0] + "/not*base64", token):
            pass
    # no header and no token in the frames: accepted, then closed 1008 after start
    async with raw(url) as ws:
        await ws.send(dialect.connected())
        await ws.send(dialect.start())
        assert await closed_code(ws) == 1008
    # a valid token, but a start frame for another call
    async with raw(url, token) as ws:
        await ws.send(TelnyxCallerDialect(other.call_control_id).start())
        assert await closed_code(ws) == 1008
    # another call's token at this call's path, smuggled in custom_parameters
    async with raw(url) as ws:
        smuggled = TelnyxCallerDialect(call.call_control_id, custom_parameters={"patter_token": other_token})
        await ws.send(smuggled.start())
        assert await closed_code(ws) == 1008
    await asyncio.sleep(0.05)
    assert served.engine.sessions == [] and served.phone.active_calls == 0


@pytest.mark.parametrize("where", ["connected", "custom_parameters"])
async def test_the_token_may_come_in_the_frames_instead_of_the_header(
    serve: ServeFactory, sim: TelnyxSimulator, where: str
) -> None:
    served = await serve()
    call, url, token = await pending_stream(sim)
    dialect = TelnyxCallerDialect(
        call.call_control_id,
        token_in_connected=token if where == "connected" else None,
        custom_parameters={"patter_token": token, "tier": "gold"}
        if where == "custom_parameters"
        else {"tier": "gold"},
    )
    async with raw(url) as ws:
        await ws.send(dialect.connected())
        await ws.send(dialect.start())
        await until(lambda: served.engine.sessions, what="the engine session")
        assert served.session(call.call_control_id).call.parameters == {
            "tier": "gold"
        }  # the token is not exposed
        await ws.send(dialect.stop())
        await closed_code(ws)
    assert (await served.record()).end_reason == "caller hung up"


async def test_malformed_frames_are_dropped_and_chunks_reordered_while_the_call_goes_on(
    serve: ServeFactory, sim: TelnyxSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    served = await serve(engine=FakeEngine(input_formats=(PCM16_16K,), output_formats=(PCM16_16K,)))
    call, url, token = await pending_stream(sim)
    dialect = TelnyxCallerDialect(call.call_control_id)
    chunks = [np.full(320, 1000 * i, dtype=">i2").tobytes() for i in range(1, 7)]  # 20 ms each, distinct
    with caplog.at_level(logging.WARNING, "patter"):
        async with raw(url, token) as ws:
            await ws.send(dialect.connected())
            await ws.send(dialect.start())
            await until(lambda: served.engine.sessions, what="the engine session")
            for junk in (
                "this is not json",
                b"\x00\x01binary",
                '{"event":"media","media":{"payload":"***"}}',
                '{"event":"media"}',
                '{"event":"unknown_event"}',
                dialect.error(100003, "malformed_frame", "the frame was malformed"),
            ):
                await ws.send(junk)
            outbound_track = TelnyxCallerDialect(call.call_control_id, track="outbound")
            await ws.send(outbound_track.media(b"\x55" * 640, 0, 0))  # the agent's own voice: dropped
            for index in (0, 2, 1, 3, 5, 4):  # chunks 1, 3, 2, 4, 6, 5
                await ws.send(dialect.media(chunks[index], index, 20 * index))
            session = served.engine.session
            await until(lambda: len(session.audio_in) >= 6 * 640, what="the reordered audio")
            await ws.send(dialect.stop())
            await closed_code(ws)
    record = await served.record()
    expected = b"".join(np.frombuffer(c, ">i2").astype("<i2").tobytes() for c in chunks)
    assert bytes(session.audio_in) == expected  # in order, nothing from the outbound track
    assert record.end_reason == "caller hung up"
    assert "dropped malformed media frame" in caplog.text and "100003" in caplog.text


async def test_a_close_without_stop_is_a_hang_up(serve: ServeFactory, sim: TelnyxSimulator) -> None:
    served = await serve()
    call = await sim.incoming_call()
    caller = await call.wait_media()
    await caller.wait_for(lambda: caller.heard_ms >= 100)
    await caller.drop()
    assert (await served.record()).end_reason == "caller hung up"


async def test_a_voicemail_verdict_before_the_stream_is_spoken_once_it_opens(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    served: Served = await serve()
    sim.auto_connect_media = False
    sim.callees["+15550001111"] = Callee("machine", detect_s=0.0, greeting_s=0.0)
    outbound = await served.phone.call("+15550001111", voicemail_message="Please call us back.")
    await until(
        lambda: any(s.status == "call.machine.detection.ended" for s in served.statuses),
        what="machine detected",
    )
    await until(
        lambda: any(d.event_type == "call.machine.greeting.ended" for d in sim.webhooks.deliveries),
        what="the greeting webhook",
    )
    await served.carrier.wait_idle()
    outcome = await outbound.outcome(timeout=5)  # the outcome is known at once ...
    assert outcome.outcome is CallOutcome.VOICEMAIL
    assert served.phone.active_calls == 0  # ... the message waits for the stream
    await sim.open_media(sim.calls[outbound.call_id])
    record = await outbound.record(timeout=15)
    assert (
        "Please call us back." in served.engine.session.said
        and record.end_reason == "agent hung up: voicemail left"
    )


async def test_stream_path_is_the_encoded_call_id(serve: ServeFactory, sim: TelnyxSimulator) -> None:
    await serve()
    call, url, _ = await pending_stream(sim)
    assert url.endswith("/ws/telnyx/stream/" + encode_call_id(call.call_control_id))
    assert base64.urlsafe_b64decode(url.rsplit("/", 1)[1] + "==").decode() == call.call_control_id
    assert (
        json.loads(TelnyxCallerDialect(call.call_control_id).start())["start"]["call_control_id"]
        == call.call_control_id
    )
