"""A small jitter buffer that puts caller audio back in order.

Telnyx does not guarantee the order of media frames (PROTOCOLS.md §2.6: "reorder by ``media.chunk``").
Frames are numbered by ``chunk`` (a per-stream media counter; ``sequence_number`` counts *every* event
including marks and DTMF, so it has gaps by design and is not used here).

Policy, with its bound:

* in-order frames are released immediately (no added latency on a healthy stream);
* after a gap, later frames are held until the missing one arrives, for at most ``window`` frames
  (default 3 = 60 ms at 20 ms frames); then the gap is declared lost and skipped;
* frames older than what was already released, and duplicates, are dropped (counted in ``late``);
* if gaps are never filled by a late frame (a sender that simply skips numbers), holding only adds
  delay, so once ``give_up_after`` numbers were skipped with no reordering ever seen, the buffer
  switches to pass-through for the rest of the stream.
"""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["Reorderer"]

T = TypeVar("T")


class Reorderer(Generic[T]):
    def __init__(self, *, window: int = 3, give_up_after: int = 10) -> None:
        if window < 1:
            raise ValueError("window must be at least one frame")
        self.window = window
        self.give_up_after = give_up_after
        self._next: int | None = None
        self._held: dict[int, T] = {}
        self.late = 0
        """Frames dropped because they came after their successors were released (or twice)."""
        self.lost = 0
        """Numbers skipped because the frame never came within the window."""
        self.reordered = 0
        """Frames that arrived early and were put back in order."""
        self.passthrough = False

    def push(self, seq: int | None, item: T) -> list[T]:
        """Add one frame; return the frames now ready, in order."""
        if seq is None or self.passthrough:
            return [item]
        if self._next is None:
            self._next = seq
        if seq < self._next or seq in self._held:
            self.late += 1
            return []
        if self._held and seq < max(self._held):
            self.reordered += 1  # it fills (part of) a gap: real reordering
        self._held[seq] = item
        ready = self._release()
        while len(self._held) > self.window:
            self.lost += min(self._held) - self._next
            self._next = min(self._held)
            ready += self._release()
            if self.lost >= self.give_up_after and self.reordered == 0:
                self.passthrough = True
                ready += self.flush()
        return ready

    def _release(self) -> list[T]:
        ready: list[T] = []
        assert self._next is not None
        while self._next in self._held:
            ready.append(self._held.pop(self._next))
            self._next += 1
        return ready

    def flush(self) -> list[T]:
        """Everything held, in order (the stream is ending)."""
        ready = [self._held[k] for k in sorted(self._held)]
        if self._held:
            self._next = max(self._held) + 1
        self._held.clear()
        return ready

    @property
    def held(self) -> int:
        return len(self._held)
