"""Pacer: bounded lead, real-time release, reset after clear, with a fake clock."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from patter_core.audio import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_first_lead_goes_out_at_once_then_real_time() -> None:
    clock = FakeClock()
    pacer = Pacer(frame_ms=20, lead_ms=200, clock=clock)
    send_times = []
    for _ in range(30):
        wait = pacer.delay()
        clock.advance(wait)
        send_times.append(clock.now)
        pacer.sent()
        assert pacer.buffered_ms() <= 200 + 20 + 1e-9
    assert send_times == sorted(send_times)
    # 11 frames go at once (lead 200 ms + the frame that crosses it), then one per 20 ms
    assert send_times[:11] == [1000.0] * 11
    gaps = [b - a for a, b in itertools.pairwise(send_times[11:])]
    assert all(g == pytest.approx(0.020) for g in gaps)


def test_buffer_drains_in_real_time_and_underrun_restarts_from_now() -> None:
    clock = FakeClock()
    pacer = Pacer(clock=clock)
    pacer.sent(100)
    assert pacer.buffered_ms() == pytest.approx(100)
    clock.advance(0.04)
    assert pacer.buffered_ms() == pytest.approx(60)
    clock.advance(1.0)
    assert pacer.buffered_ms() == 0.0
    pacer.sent(20)  # the far end ran dry: this frame plays from now
    assert pacer.buffered_ms() == pytest.approx(20)
    assert pacer.delay() == 0.0


def test_reset_after_clear() -> None:
    clock = FakeClock()
    pacer = Pacer(lead_ms=100, clock=clock)
    for _ in range(20):
        pacer.sent()
    assert pacer.delay() == pytest.approx(0.3)
    pacer.reset()
    assert pacer.buffered_ms() == 0.0
    assert pacer.delay() == 0.0


def test_zero_lead_is_strict_real_time() -> None:
    clock = FakeClock()
    pacer = Pacer(frame_ms=20, lead_ms=0, clock=clock)
    pacer.sent()
    assert pacer.delay() == pytest.approx(0.02)


def test_wait_sleeps_for_the_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    pacer = Pacer(lead_ms=0, clock=clock)
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)

    async def main() -> None:
        await pacer.wait()  # nothing buffered: no sleep
        pacer.sent(20)
        await pacer.wait()

    asyncio.run(main())
    assert slept == [pytest.approx(0.02)]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        Pacer(frame_ms=0)
    with pytest.raises(ValueError):
        Pacer(lead_ms=-1)
    with pytest.raises(ValueError):
        Pacer().sent(-5)
