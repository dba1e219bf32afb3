"""Real-time pacing of outbound audio with a bounded lead.

Providers synthesise faster than real time. Handing the carrier everything at once would fill its
playout buffer with seconds of audio: a barge-in would then have a lot to clear, and marks would be
acknowledged long after they were sent. The :class:`Pacer` models the far end's playout buffer (it
plays one second of audio per second, starting when audio arrives) and lets the sender run at most
``lead_ms`` ahead of what has been played: the first ``lead_ms`` go out at once (a cushion against
network jitter), then frames leave at real time.

It is pure logic (no I/O, injected clock), so tests drive it with a fake clock; :meth:`Pacer.wait` is
the only coroutine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["Pacer"]


class Pacer:
    """Decide when the next outbound frame may be handed to the carrier.

    Usage per frame: ``await pacer.wait()``, send the frame, ``pacer.sent()``. At most ``lead_ms``
    plus one frame is ever queued at the far end. After a ``clear`` sent to the carrier, call
    :meth:`reset`.
    """

    __slots__ = ("_clock", "_play_end", "frame_ms", "lead_ms")

    def __init__(
        self,
        frame_ms: float = 20,
        lead_ms: float = 200,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if frame_ms <= 0:
            raise ValueError(f"frame_ms must be positive, got {frame_ms!r}")
        if lead_ms < 0:
            raise ValueError(f"lead_ms must be >= 0, got {lead_ms!r}")
        self.frame_ms = float(frame_ms)
        self.lead_ms = float(lead_ms)
        self._clock = clock
        self._play_end = clock()  # clock time at which everything sent so far will have been played

    def buffered_ms(self) -> float:
        """Audio sent but (by the model) not yet played at the far end, in ms."""
        return max(0.0, (self._play_end - self._clock()) * 1000)

    def delay(self) -> float:
        """Seconds to wait before the next frame may be sent (0 while the lead is below ``lead_ms``)."""
        return max(0.0, self.buffered_ms() - self.lead_ms) / 1000

    def sent(self, ms: float | None = None) -> None:
        """Record that ``ms`` of audio (default: one frame) was handed to the carrier just now."""
        duration = self.frame_ms if ms is None else float(ms)
        if duration < 0:
            raise ValueError(f"sent(ms) must be >= 0, got {ms!r}")
        # If the far end ran dry, playback of this audio starts now, not where the previous audio ended.
        self._play_end = max(self._play_end, self._clock()) + duration / 1000

    def reset(self) -> None:
        """Nothing is buffered any more (the carrier's buffer was cleared)."""
        self._play_end = self._clock()

    async def wait(self) -> None:
        """Sleep until the next frame may be sent (returns at once when it may be sent now)."""
        pause = self.delay()
        if pause > 0:
            await asyncio.sleep(pause)
