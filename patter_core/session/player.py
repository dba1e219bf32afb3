"""Outbound audio of one call: convert once, frame exactly, pace to real time, mark what played.

Agent audio arrives in *segments* (an engine item, a synthesised sentence, the greeting), in whatever
format its producer speaks. The player converts it to the carrier's wire format (one converter per
source format, reused), cuts exact 20 ms frames, and sends them no further ahead of real time than
``lead_ms`` -- so a barge-in has little to clear, and marks, placed every ``mark_interval_ms`` and at
each segment's end, tell the :class:`~patter_core.audio.PlaybackTracker` what the caller heard.

Carriers without mark echoes get virtual marks, acknowledged when the pacing clock says the audio
before them has played.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from patter_core.audio import Converter, Framer, Pacer, PlaybackTracker
from patter_core.audio.format import FRAME_MS, AudioFormat
from patter_core.interfaces.carrier import MediaChannel

__all__ = ["Player"]

log = logging.getLogger("patter.player")

FrameObserver = Callable[[bytes, float], None]
"""Called with each frame sent and the call-clock second at which it will start playing."""


class Player:
    def __init__(
        self,
        channel: MediaChannel,
        tracker: PlaybackTracker,
        *,
        lead_ms: float = 200.0,
        mark_interval_ms: float = 100.0,
        clock: Callable[[], float] = time.monotonic,
        on_frame: FrameObserver | None = None,
        on_clear: Callable[[], None] | None = None,
    ) -> None:
        self._channel = channel
        self._tracker = tracker
        self._wire = channel.format
        self._frame_ms = float(FRAME_MS)
        self._framer = Framer.for_format(self._wire, FRAME_MS)
        self._pacer = Pacer(frame_ms=self._frame_ms, lead_ms=lead_ms, clock=clock)
        self._clock = clock
        self._mark_every = max(1, round(mark_interval_ms / self._frame_ms))
        self._virtual_marks = not channel.supports_marks
        self._pending_virtual: deque[tuple[float, str]] = deque()
        self._converters: dict[AudioFormat, Converter] = {}
        self._queue: deque[tuple[str, bytes | None]] = deque()
        self._segment: str | None = None
        self._active: dict[str, None] = {}
        """Segments with audio queued, sent or still playing, oldest first."""
        self._since_mark = 0
        self._wakeup = asyncio.Event()
        self._changed = asyncio.Event()
        self._on_frame = on_frame
        self._on_clear = on_clear
        self._first_frame: dict[str, Callable[[], None]] = {}
        self._closed = False
        self.audio_started = asyncio.Event()
        """Set once the first agent frame went out on the call (the session is speaking)."""

    # -- producer side -------------------------------------------------------------------------

    def play(self, segment_id: str, data: bytes, fmt: AudioFormat) -> None:
        """Queue ``data`` (in ``fmt``) as the next audio of ``segment_id``."""
        if self._closed or not data:
            return
        if self._segment is not None and segment_id != self._segment:
            self.end_segment(self._segment)
        self._segment = segment_id
        self._active[segment_id] = None
        wire = self._converter(fmt).convert(data)
        for frame in self._framer.push(wire):
            self._queue.append((segment_id, frame))
        self._wakeup.set()

    def on_first_frame(self, segment_id: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the first frame of ``segment_id`` goes on the wire (for metrics)."""
        self._first_frame[segment_id] = callback

    def end_segment(self, segment_id: str) -> None:
        """The segment is complete: send its last partial frame (padded) and a closing mark."""
        if self._closed or self._segment != segment_id:
            return
        tail = b"".join(c.flush() for c in self._converters.values())
        frames = self._framer.push(tail) if tail else []
        rest = self._framer.flush(pad=True)
        for frame in frames + ([rest] if rest else []):
            self._queue.append((segment_id, frame))
        for converter in self._converters.values():
            converter.reset()
        self._queue.append((segment_id, None))
        self._segment = None
        self._wakeup.set()

    def _converter(self, fmt: AudioFormat) -> Converter:
        converter = self._converters.get(fmt)
        if converter is None:
            converter = self._converters[fmt] = Converter(fmt, self._wire)
        return converter

    async def clear(self) -> None:
        """Barge-in: drop everything queued here and at the carrier."""
        self._queue.clear()
        self._framer.reset()
        for converter in self._converters.values():
            converter.reset()
        self._segment = None
        self._active.clear()
        self._first_frame.clear()
        self._since_mark = 0
        self._pending_virtual.clear()
        self._tracker.cleared()
        self._pacer.reset()
        if self._on_clear is not None:
            self._on_clear()
        if not self._closed:
            await self._channel.clear()
        self._notify()

    # -- state ---------------------------------------------------------------------------------

    @property
    def speaking(self) -> bool:
        """Agent audio is queued here or still playing at the carrier."""
        self._ack_virtual()
        return bool(self._queue) or self._segment is not None or self._tracker.is_playing

    def in_flight(self) -> list[str]:
        """Segments not yet completely heard (queued, sent, or playing), oldest first."""
        self._ack_virtual()
        queued = {segment for segment, _ in self._queue}
        for segment in list(self._active):
            if segment not in queued and segment != self._segment and self._tracker.finished(segment):
                del self._active[segment]
        return list(self._active)

    def on_mark(self, name: str) -> None:
        """A mark echo from the carrier."""
        if self._virtual_marks:
            return
        self._tracker.mark_acknowledged(name)
        self._notify()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or playing; ``False`` on timeout."""

        async def idle() -> None:
            while self.speaking:
                self._changed.clear()
                wait = 0.05 if self._virtual_marks else None
                try:
                    await asyncio.wait_for(self._changed.wait(), wait)
                except TimeoutError:
                    pass

        try:
            await asyncio.wait_for(idle(), timeout)
            return True
        except TimeoutError:
            return False

    def _notify(self) -> None:
        self._changed.set()

    # -- sender --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Send queued frames at real-time pace until the call ends."""
        send_audio = self._channel.send_audio
        while not self._closed:
            if not self._queue:
                self._ack_virtual()
                self._notify()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._pacer.wait()
            if not self._queue:  # cleared while we waited
                continue
            segment_id, frame = self._queue.popleft()
            if frame is None:
                await self._place_mark(segment_id)
                continue
            play_at = self._clock() + self._pacer.buffered_ms() / 1000
            await send_audio(frame)
            if not self.audio_started.is_set():
                self.audio_started.set()
            self._pacer.sent(self._frame_ms)
            self._tracker.audio_sent(segment_id, self._frame_ms)
            if self._on_frame is not None:
                self._on_frame(frame, play_at)
            if self._first_frame:
                callback = self._first_frame.pop(segment_id, None)
                if callback is not None:
                    callback()
            self._since_mark += 1
            if self._since_mark >= self._mark_every and not (self._queue and self._queue[0][1] is None):
                await self._place_mark(segment_id)

    async def _place_mark(self, segment_id: str) -> None:
        self._since_mark = 0
        name = self._tracker.place_mark(segment_id)
        if self._virtual_marks:
            due = self._clock() + self._pacer.buffered_ms() / 1000
            self._pending_virtual.append((due, name))
        else:
            await self._channel.send_mark(name)
        self._notify()

    def _ack_virtual(self) -> None:
        if not self._pending_virtual:
            return
        now = self._clock()
        while self._pending_virtual and self._pending_virtual[0][0] <= now:
            self._tracker.mark_acknowledged(self._pending_virtual.popleft()[1])

    def close(self) -> None:
        self._closed = True
        self._queue.clear()
        self._wakeup.set()
        self._notify()
