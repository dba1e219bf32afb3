"""An in-process media channel that behaves like a carrier's media stream.

The session under test talks to it exactly as to a real carrier; the test plays the caller:
``await channel.speak(audio)``, ``channel.press("1")``, ``channel.hang_up()``. Agent audio is "played"
like a carrier does: frames queue up and play in order at real time (``playback="realtime"``), or as
far as the test says with :meth:`FakeChannel.play` (``playback="manual"``, fully deterministic). Marks
are echoed once the audio sent before them has played, and all pending marks are echoed at once when
the session sends ``clear`` -- the same semantics the carriers document.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable

from patter_core.audio.format import MULAW_8K, AudioFormat
from patter_core.interfaces.carrier import (
    AudioReceived,
    CallInfo,
    DtmfReceived,
    MarkPlayed,
    MediaChannel,
    MediaEvent,
    StreamStopped,
)
from patter_core.testing.waiting import wait_until

__all__ = ["FakeChannel"]

_END = object()


class FakeChannel(MediaChannel):
    def __init__(
        self,
        *,
        format: AudioFormat = MULAW_8K,
        call: CallInfo | None = None,
        supports_marks: bool = True,
        playback: str = "realtime",
    ) -> None:
        if playback not in ("realtime", "manual"):
            raise ValueError("playback must be 'realtime' or 'manual'")
        self.format = format
        self.call = call or CallInfo(
            call_id="CAfake", carrier="fake", caller="+15550001111", callee="+15550002222"
        )
        self.supports_marks = supports_marks
        self.playback = playback
        self.frame_bytes = format.frame_bytes()
        self._inbound: asyncio.Queue[MediaEvent | object] = asyncio.Queue()
        self.sent: list[tuple[str, object]] = []
        """Everything the session sent: ``("media", bytes)``, ``("mark", name)``, ``("clear", None)``."""
        self.bad_frames = 0
        """Frames whose size was not exactly one frame of the wire format."""
        self.closed: str | None = None
        self._queue: deque[tuple[str, bytes | str]] = deque()
        self.played = bytearray()
        """Agent audio that actually played (cleared audio excluded)."""
        self.echoed: list[str] = []
        self.cleared_marks: list[str] = []
        self._player: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    # -- the session's side (MediaChannel) -----------------------------------------------------

    async def events(self) -> AsyncIterator[MediaEvent]:
        while True:
            event = await self._inbound.get()
            if event is _END:
                return
            assert isinstance(event, (AudioReceived, DtmfReceived, MarkPlayed, StreamStopped))
            yield event
            if isinstance(event, StreamStopped):
                return

    async def send_audio(self, frame: bytes) -> None:
        if len(frame) != self.frame_bytes:
            self.bad_frames += 1
        self.sent.append(("media", frame))
        self._queue.append(("media", frame))
        self._kick()

    async def send_mark(self, name: str) -> None:
        self.sent.append(("mark", name))
        self._queue.append(("mark", name))
        self._kick()

    async def clear(self) -> None:
        self.sent.append(("clear", None))
        pending = [item for kind, item in self._queue if kind == "mark"]
        self._queue.clear()
        if self._player is not None:
            self._player.cancel()
            self._player = None
        for name in pending:
            assert isinstance(name, str)
            self.cleared_marks.append(name)
            self._echo(name)

    async def close(self, reason: str = "") -> None:
        if self.closed is None:
            self.closed = reason or "closed"
        if self._player is not None:
            self._player.cancel()
        self._inbound.put_nowait(_END)
        self._changed.set()

    # -- playout -------------------------------------------------------------------------------

    def _kick(self) -> None:
        self._changed.set()
        if self.playback == "realtime" and self._player is None:
            self._player = asyncio.get_running_loop().create_task(self._play_realtime())
        elif self.playback == "manual":
            self._advance(0)

    async def _play_realtime(self) -> None:
        frame_s = 0.02
        try:
            while self._queue:
                kind, item = self._queue[0]
                if kind == "media":
                    await asyncio.sleep(frame_s)
                if not self._queue or self._queue[0][1] is not item:
                    continue
                self._queue.popleft()
                if kind == "media":
                    assert isinstance(item, bytes)
                    self.played += item
                else:
                    assert isinstance(item, str)
                    self._echo(item)
        finally:
            self._player = None

    def play(self, ms: float) -> None:
        """Manual playback: play ``ms`` of queued agent audio, echoing the marks it reaches."""
        self._advance(ms)

    def _advance(self, ms: float) -> None:
        budget = self.format.bytes_for_ms(ms)
        while self._queue:
            kind, item = self._queue[0]
            if kind == "mark":
                self._queue.popleft()
                assert isinstance(item, str)
                self._echo(item)
                continue
            assert isinstance(item, bytes)
            if budget < len(item):
                break
            budget -= len(item)
            self._queue.popleft()
            self.played += item

    def _echo(self, name: str) -> None:
        self.echoed.append(name)
        self._inbound.put_nowait(MarkPlayed(name))
        self._changed.set()

    @property
    def queued_ms(self) -> float:
        return self.format.duration_ms(sum(len(i) for k, i in self._queue if k == "media"))

    @property
    def played_ms(self) -> float:
        return self.format.duration_ms(len(self.played))

    # -- the caller's side ---------------------------------------------------------------------

    async def speak(self, audio: bytes, *, realtime: bool = False) -> None:
        """Send caller audio in wire-format frames (``realtime`` paces them 20 ms apart)."""
        for start in range(0, len(audio), self.frame_bytes):
            frame = audio[start : start + self.frame_bytes]
            self._inbound.put_nowait(AudioReceived(frame))
            if realtime:
                await asyncio.sleep(0.02)
            else:
                await asyncio.sleep(0)

    def press(self, digit: str) -> None:
        self._inbound.put_nowait(DtmfReceived(digit))

    def hang_up(self) -> None:
        """The caller hangs up (the carrier sends ``stop``)."""
        self._inbound.put_nowait(StreamStopped("stop"))

    def drop(self) -> None:
        """The carrier's socket closes without ``stop``."""
        self._inbound.put_nowait(_END)

    def media_frames(self) -> list[bytes]:
        return [item for kind, item in self.sent if kind == "media"]  # type: ignore[misc]

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.sent if k == kind)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds (checked whenever the channel changes and every 10 ms)."""

        await wait_until(predicate, timeout=timeout, changed=self._changed, poll_s=0.01)
