"""A small jitter buffer that puts caller audio back in order -- without ever losing a real frame.

Telnyx does not guarantee the order of media frames (PROTOCOLS.md §2.6: "reorder by ``media.chunk``").
Frames are numbered by ``chunk`` (a per-stream media counter; ``sequence_number`` counts *every* event
including marks and DTMF, so it has gaps by design and is not used here).

Policy, with its bounds:

* in-order frames are released immediately (no added latency on a healthy stream);
* after a gap, later frames are held until the missing one arrives, for at most ``window`` frames
  (default 3 = 60 ms at 20 ms frames); then the gap is declared lost and skipped;
* a frame that arrives after its successors were released is released at once, out of order (counted
  in ``late``): a 20 ms glitch is better than losing the audio; an exact repeat of a recently released
  frame (same number, same content) is dropped as a retransmission;
* a number further than ``max_jump`` frames ahead (default 25 = 500 ms) is implausible: it is released
  at once without moving the expected number (counted in ``implausible``), so a garbage number can
  never push the expected number past every real frame -- unless ``resync_after`` such frames in a row
  are consecutive among themselves: the stream really jumped, and the buffer follows it;
* if gaps are never filled by a late frame (a sender that simply skips numbers), holding only adds
  delay, so once ``give_up_after`` numbers were skipped with no reordering ever seen, the buffer
  switches to pass-through for the rest of the stream.
"""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["Reorderer"]

T = TypeVar("T")
_MISSING = object()
_RECENT = 64


class Reorderer(Generic[T]):
    def __init__(
        self, *, window: int = 3, give_up_after: int = 10, max_jump: int = 25, resync_after: int = 3
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least one frame")
        self.window = window
        self.give_up_after = give_up_after
        self.max_jump = max_jump
        self.resync_after = resync_after
        self.implausible = 0
        """Frames dropped because their number was far from any plausible position."""
        self._jump: tuple[int, int] | None = None
        """(last implausible number, how many consecutive ones so far)."""
        self._next: int | None = None
        self._held: dict[int, T] = {}
        self.late = 0
        """Frames released out of order because their successors had already been released."""
        self.duplicates = 0
        """Frames dropped because the same number was released (or is held) already."""
        self._recent: dict[int, T] = {}
        """The last released frames by number, to recognise retransmissions."""
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
        if self._recent.get(seq, _MISSING) == item or self._held.get(seq, _MISSING) == item:
            self.duplicates += 1  # the same frame twice (a retransmission); a different one is kept
            return []
        if seq > self._next + self.max_jump:
            if self._resync(seq):
                return self.flush_to(seq, item)
            self.implausible += 1
            return [item]
        self._jump = None
        if seq < self._next or seq in self._held:
            self.late += 1
            self._remember(seq, item)
            return [item]
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

    def _remember(self, seq: int, item: T) -> None:
        self._recent[seq] = item
        if len(self._recent) > _RECENT:
            del self._recent[next(iter(self._recent))]

    def _resync(self, seq: int) -> bool:
        last = self._jump
        count = last[1] + 1 if last is not None and seq == last[0] + 1 else 1
        self._jump = (seq, count)
        return count >= self.resync_after

    def flush_to(self, seq: int, item: T) -> list[T]:
        """The counter jumped for real: release what is held, then continue from ``seq``."""
        ready = self.flush()
        self._jump = None
        self._next = seq + 1
        return [*ready, item]

    def _release(self) -> list[T]:
        ready: list[T] = []
        assert self._next is not None
        while self._next in self._held:
            item = self._held.pop(self._next)
            ready.append(item)
            self._remember(self._next, item)
            self._next += 1
        return ready

    def flush(self) -> list[T]:
        """Everything held, in order (the stream is ending)."""
        ready = [self._held[k] for k in sorted(self._held)]
        for seq in sorted(self._held):
            self._remember(seq, self._held[seq])
        if self._held:
            self._next = max(self._held) + 1
        self._held.clear()
        return ready

    @property
    def held(self) -> int:
        return len(self._held)
