"""Bad input on the real server: malformed media frames and webhooks never crash a call or the server.

Runs once per carrier simulator (see ``conftest.SIMULATORS``): the bad frames are mutations of the
carrier's own valid frames (from the simulated caller's dialect), plus a fixed list of classics.
While one call is flooded, a second call runs next to it: it must not notice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable

import httpx
import pytest

from patter_core.audio import Converter
from patter_core.server.media import MAX_FRAME_BYTES
from patter_core.testing import SimulatedCaller, silence, voice
from patter_core.testing.mutate import mutate

VICTIM, BYSTANDER = "+15550001111", "+15550003333"


def frame(caller: SimulatedCaller) -> bytes:
    return silence(20, caller.format)


def classic_bad_frames(caller: SimulatedCaller, other: SimulatedCaller) -> list[str | bytes]:
    media = caller.dialect.media(frame(caller), 1, 20)
    return [
        "",
        "this is not json",
        b"\x00\xff\xfe binary garbage",
        b"\xc3\x28 invalid utf-8",
        "null",
        "[]",
        "42",
        '"a string"',
        json.dumps({"event": None}),
        json.dumps({"event": "media"}),  # a field missing
        json.dumps({"event": "media", "payload": 12345}),  # a wrong type
        json.dumps({"event": "media", "payload": "***not base64***"}),
        json.dumps({"event": "no-such-event", "x": 1}),
        media.replace("media", "MEDIA"),
        "[" * 100_000,  # nesting deep enough to break a recursive parser
        "x" * (MAX_FRAME_BYTES + 1),  # an oversized frame
        json.dumps({"event": "media", "payload": "A" * (512 * 1024)}),  # a huge payload
        caller.dialect.start(),  # a second start on a live stream
        other.dialect.start(),  # another call's start (wrong stream/call id) on this stream
        caller.dialect.mark("a-mark-the-server-never-sent"),
    ]


def mutated_frames(caller: SimulatedCaller, count: int, seed: int) -> list[str | bytes]:
    rnd = random.Random(seed)
    d = caller.dialect
    examples = [d.media(frame(caller), 3, 60), d.mark("seg-1:100"), d.dtmf("5"), d.start()]
    return [mutate(rnd.choice(examples), rnd, examples) for _ in range(count)]


def on_the_wire(frame: str | bytes) -> str | bytes:
    """A WebSocket text frame must be valid UTF-8: text that is not becomes a binary frame."""
    if isinstance(frame, str):
        try:
            frame.encode("utf-8")
        except UnicodeEncodeError:
            return frame.encode("utf-8", "surrogatepass")
    return frame


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)


async def test_bad_frames_are_dropped_the_call_goes_on_and_the_other_call_is_untouched(
    served, caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest, no_leaks
) -> None:
    caplog.set_level(logging.WARNING, logger="patter.media")
    victim = await served.call(caller=VICTIM)
    bystander = await served.call(caller=BYSTANDER)
    await served.engine.connected.wait()
    await victim.wait_for(lambda: len(served.engine.sessions) == 2)
    victim_session, bystander_session = served.session_of(VICTIM), served.session_of(BYSTANDER)
    assert victim_session is not bystander_session  # provider sessions are per call

    spoken = voice(400, bystander.format)
    bystander_task = asyncio.create_task(bystander.say(spoken))
    for frame in classic_bad_frames(victim, bystander) + mutated_frames(victim, 1500, seed=9):
        await victim._send(on_the_wire(frame))  # type: ignore[arg-type]
    await bystander_task

    # the victim's call is alive and still understands good frames
    good = voice(200, victim.format)
    await victim.say(good)
    expected = Converter(victim.format, victim_session.input_format).convert(good)  # passthrough or byte swap
    step = victim_session.input_format.frame_bytes()
    frames = [expected[k : k + step] for k in range(0, len(expected), step)]
    # every good frame arrives (a carrier that reorders by chunk number may interleave a garbage frame
    # whose number fell among them, but nothing good is lost)
    await wait_until(lambda: all(f in bytes(victim_session.audio_in) for f in frames), timeout=3)
    assert served.phone.active_calls == 2
    async with httpx.AsyncClient() as client:
        health = await client.get(f"{served.base}/health")
    assert health.status_code == 200 and health.json()["active_calls"] == 2
    assert "dropped malformed media frame" in caplog.text

    # the bystander: every byte it said reached its own engine, untouched; its greeting played whole
    await wait_until(
        lambda: (
            len(bystander_session.audio_in)
            >= len(spoken) * bystander_session.input_format.sample_width // bystander.format.sample_width
        )
    )
    assert bytes(bystander_session.audio_in) == Converter(
        bystander.format, bystander_session.input_format
    ).convert(spoken)
    await bystander.wait_for(lambda: bystander.heard_ms >= 800)
    assert bystander.clears == 0 and set(bystander.frame_sizes) == {bystander.format.frame_bytes()}
    assert bystander.protocol_errors == []

    await victim.hang_up()
    await bystander.hang_up()
    records = await served.wait_records(2)
    assert {r.end_reason for r in records} == {"caller hung up"}
    assert not [e for r in records for e in r.events_of("error") if e.data.get("fatal")]


async def test_garbage_on_every_webhook_route_gets_a_4xx_never_a_5xx(served, no_leaks) -> None:
    rnd = random.Random(3)
    bodies: list[bytes] = [
        b"",
        b"{not json",
        b"[" * 200_000,
        b"\xff\xfe\x00",
        json.dumps({"call_id": "CA1"}).encode(),
        b"CallSid=CA1&From=%2B15550001111&To=%2B15550002222",
        *(str(mutate('{"call_id":"CA1","from":"+15550001111"}', rnd)).encode() for _ in range(15)),
    ]
    headers_variants = [
        {},
        {"Content-Type": "application/json"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl", "X-Fake-Signature": "00" * 32},
        {"X-Fake-Signature": "\u00e9t\u00e9".encode("latin-1"), "X-Twilio-Signature": b"\xe9"},  # non-ASCII
    ]
    routes = [path for method, path in served.phone._host.routes if "POST" in method]
    assert routes
    statuses: set[int] = set()
    async with httpx.AsyncClient(base_url=served.base) as client:
        for path in routes:
            concrete = path.replace("{call_id}", "CA1")
            for body in bodies:
                for headers in headers_variants:
                    response = await client.post(concrete, content=body, headers=headers)  # type: ignore[arg-type]
                    statuses.add(response.status_code)
                    assert response.status_code < 500, (concrete, body[:80], headers, response.text[:200])
        oversized = await client.post(routes[0], content=b"x" * (512 * 1024))
    assert oversized.status_code == 413
    assert statuses <= {400, 401, 403, 404, 405, 413, 415, 422}
    assert served.engine.sessions == []  # no forged webhook reached a provider
