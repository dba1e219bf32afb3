"""Machine verdicts wait until the call's session can speak (VerdictRouter)."""

from __future__ import annotations

import asyncio
from typing import Any

from patter_twilio.voicemail import VerdictRouter

from patter_core.interfaces.carrier import CallOutcome, CallStatusEvent


class Host:
    def __init__(self) -> None:
        self.reported: list[CallStatusEvent] = []

    def report_status(self, event: CallStatusEvent) -> None:
        self.reported.append(event)


def router(**kw: Any) -> tuple[VerdictRouter, Host]:
    r = VerdictRouter(**kw)
    host = Host()
    r.host = host  # type: ignore[assignment]
    return r, host


def machine(call_id: str = "CA1") -> CallStatusEvent:
    return CallStatusEvent(
        call_id=call_id, status="in-progress", outcome=CallOutcome.VOICEMAIL, answered_by="machine"
    )


async def test_reported_at_once_when_the_session_is_speaking() -> None:
    r, host = router()
    ready, _ = r.stream_started("CA1")
    ready()
    r.deliver(machine())
    assert host.reported == [machine()]
    r.close()


async def test_held_until_the_first_outbound_frame() -> None:
    r, host = router(ready_fallback_s=5)
    r.deliver(machine())  # sync AMD: the verdict comes before the stream
    ready, _ = r.stream_started("CA1")
    assert host.reported == [] and r.pending == ["CA1"]
    ready()
    assert host.reported == [machine()] and r.pending == []
    ready()  # idempotent
    assert len(host.reported) == 1
    r.close()


async def test_fallback_when_the_agent_stays_silent() -> None:
    r, host = router(ready_fallback_s=0.02)
    r.stream_started("CA1")
    r.deliver(machine())
    await asyncio.sleep(0.05)
    assert host.reported == [machine()]
    r.close()


async def test_given_up_when_no_stream_comes_and_flushed_when_it_ends() -> None:
    r, host = router(give_up_s=0.02)
    r.deliver(machine("CA1"))
    await asyncio.sleep(0.05)
    assert [e.call_id for e in host.reported] == ["CA1"]
    r2, host2 = router(ready_fallback_s=5)
    r2.stream_started("CA2")
    r2.deliver(machine("CA2"))
    r2.stream_ended("CA2")
    assert [e.call_id for e in host2.reported] == ["CA2"]
    r.close()
    r2.close()


async def test_close_cancels_everything() -> None:
    r, host = router(give_up_s=0.02, ready_fallback_s=0.02)
    r.stream_started("CA1")
    r.deliver(machine("CA1"))
    r.deliver(machine("CA2"))
    r.close()
    await asyncio.sleep(0.05)
    assert host.reported == [] and r.pending == []


async def test_a_duplicate_stream_does_not_disturb_the_first() -> None:
    r, host = router(ready_fallback_s=5)
    ready, ended = r.stream_started("CA1")
    dup_ready, dup_ended = r.stream_started("CA1")  # refused by the core; its callbacks do nothing
    dup_ready()
    dup_ended()
    r.deliver(machine())
    assert host.reported == [] and r.pending == ["CA1"]  # the first stream is still tracked
    ready()
    assert host.reported == [machine()]
    ended()
    r.close()
