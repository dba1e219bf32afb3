"""What the caller actually heard, from marks sent to and acknowledged by the carrier.

Outbound audio belongs to *segments* (a response, an utterance, an engine item), each identified by a
string. After sending some audio of a segment, the session places a mark (:meth:`place_mark`) and sends
it to the carrier right behind that audio; the carrier echoes the mark when playback reaches it. The
tracker turns those echoes into "ms of segment X played", which barge-in needs (truncate the engine's
item at what the caller heard; keep only heard text in the history).

Clear semantics (the conservative choice). When the session sends ``clear``, the carrier drops its
queued audio and echoes the marks that were queued with it: those echoes do not mean "played". So
:meth:`cleared` makes every pending mark stale, and a stale mark's echo is ignored. A mark that was
genuinely played but whose echo races the clear is ignored as well: the heard position may then be
underestimated by up to one mark interval, never overestimated. Sent positions of unfinished segments
are cut back to what was acknowledged, so :meth:`finished` and :meth:`sent_ms` describe what the caller
heard; audio sent for such a segment later counts on from there.

Acknowledging a mark implies every mark placed before it was played too (carriers play in order), so
a lost echo does not leave the tracker believing audio is still queued.
"""

from __future__ import annotations

import itertools
import secrets

import attrs

__all__ = ["MarkPosition", "PlaybackTracker"]

_EPS_MS = 1e-6


@attrs.frozen(slots=True)
class MarkPosition:
    """An acknowledged mark: ``position_ms`` of segment ``segment_id`` has been played."""

    name: str
    segment_id: str
    position_ms: float


@attrs.define(slots=True)
class _Segment:
    sent_ms: float = 0.0
    played_ms: float = 0.0


class PlaybackTracker:
    """Map carrier marks to milliseconds of each segment played. One per call; no I/O.

    ``prefix`` starts every mark name; by default it is random, so a stale echo from another tracker
    (an earlier connection of the same call) can never match a mark of this one.
    """

    __slots__ = ("_counter", "_last", "_pending", "_prefix", "_segments")

    def __init__(self, prefix: str | None = None) -> None:
        self._prefix = prefix if prefix is not None else f"m{secrets.token_hex(3)}-"
        self._counter = itertools.count(1)
        self._segments: dict[str, _Segment] = {}
        self._pending: dict[str, MarkPosition] = {}  # insertion order == send order
        self._last: str | None = None

    def _segment(self, segment_id: str) -> _Segment:
        seg = self._segments.get(segment_id)
        if seg is None:
            seg = self._segments[segment_id] = _Segment()
        return seg

    def audio_sent(self, segment_id: str, ms: float) -> None:
        """Record ``ms`` of audio of ``segment_id`` handed to the carrier."""
        if ms < 0:
            raise ValueError(f"audio_sent(ms) must be >= 0, got {ms!r}")
        self._segment(segment_id).sent_ms += ms
        self._last = segment_id

    def place_mark(self, segment_id: str) -> str:
        """A new unique mark name for the current sent position of ``segment_id``.

        Send it to the carrier right after that audio.
        """
        name = f"{self._prefix}{next(self._counter)}"
        position = self._segment(segment_id).sent_ms
        self._pending[name] = MarkPosition(name, segment_id, position)
        return name

    def mark_acknowledged(self, name: str) -> MarkPosition | None:
        """The carrier echoed mark ``name``: return what it marks, or ``None`` if unknown or stale."""
        mark = self._pending.get(name)
        if mark is None:
            return None
        # Everything placed before it was played as well (in order); drop those marks too.
        while self._pending:
            first_name, first = next(iter(self._pending.items()))
            del self._pending[first_name]
            self._played(first)
            if first_name == name:
                break
        return mark

    def _played(self, mark: MarkPosition) -> None:
        seg = self._segment(mark.segment_id)
        seg.played_ms = max(seg.played_ms, mark.position_ms)

    def cleared(self) -> None:
        """We sent ``clear``: pending marks become stale; unfinished segments end where acknowledged."""
        self._pending.clear()
        for seg in self._segments.values():
            seg.sent_ms = min(seg.sent_ms, seg.played_ms)

    def played_ms(self, segment_id: str) -> float:
        """Position of the last acknowledged mark of ``segment_id`` (0 if none)."""
        seg = self._segments.get(segment_id)
        return 0.0 if seg is None else seg.played_ms

    def sent_ms(self, segment_id: str) -> float:
        """Audio of ``segment_id`` handed to the carrier so far (cut back by :meth:`cleared`)."""
        seg = self._segments.get(segment_id)
        return 0.0 if seg is None else seg.sent_ms

    def finished(self, segment_id: str) -> bool:
        """Whether all audio sent for ``segment_id`` has been acknowledged as played.

        True for a segment that never sent audio (there is nothing left to play).
        """
        seg = self._segments.get(segment_id)
        return seg is None or seg.played_ms >= seg.sent_ms - _EPS_MS

    @property
    def pending_marks(self) -> int:
        """Marks sent and not yet acknowledged."""
        return len(self._pending)

    @property
    def is_playing(self) -> bool:
        """Whether some mark is unacknowledged, i.e. audio is still queued at the far end."""
        return bool(self._pending)

    @property
    def last_segment(self) -> str | None:
        """The segment whose audio was sent most recently (``None`` before any audio)."""
        return self._last
