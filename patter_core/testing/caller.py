"""A simulated caller on a real media WebSocket: the carrier's side of a call, for any carrier.

It connects to the server's media route like the carrier would and, like a real phone line, sends a
20 ms frame every 20 ms for as long as the call lasts -- the caller's speech when they talk, line
silence otherwise (``realtime=False`` sends speech as fast as possible and nothing in between). It
*plays* what the agent sends the way carriers do: frames queue up and play in order
at real time; a mark is echoed only once the audio sent before it has played; ``clear`` drops the queue
and echoes every pending mark at once. It records what the caller heard (``heard``), the frames'
sizes, marks and clears, and can press keys, hang up (``stop``) or drop the socket.

Each carrier plugin supplies a :class:`CallerDialect` -- how its frames are spelled in both
directions -- and wraps this class in its own simulator (webhook signing, answer instructions).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from patter_core.audio.format import MULAW_8K, AudioFormat
from patter_core.testing.waiting import wait_until

__all__ = ["CallerDialect", "Outbound", "SimulatedCaller"]

Outbound = tuple[str, Any]
"""What the server sent, parsed: ``("media", bytes)``, ``("mark", name)``, ``("clear", None)``."""


class CallerDialect(abc.ABC):
    """The carrier's frames, from the carrier's side of the socket."""

    def connected(self) -> str | None:
        return None

    @abc.abstractmethod
    def start(self) -> str: ...

    @abc.abstractmethod
    def media(self, payload: bytes, index: int, timestamp_ms: int) -> str: ...

    @abc.abstractmethod
    def dtmf(self, digit: str) -> str: ...

    @abc.abstractmethod
    def mark(self, name: str) -> str: ...

    @abc.abstractmethod
    def stop(self) -> str: ...

    @abc.abstractmethod
    def parse_outbound(self, message: str | bytes) -> Outbound | None:
        """Parse a server frame; raise ``ValueError`` for anything the real carrier would reject."""


class SimulatedCaller:
    def __init__(
        self,
        url: str,
        dialect: CallerDialect,
        *,
        headers: Mapping[str, str] | None = None,
        format: AudioFormat = MULAW_8K,
        realtime: bool = True,
    ) -> None:
        self.url = url
        self.dialect = dialect
        self.headers = dict(headers or {})
        self.format = format
        self.realtime = realtime
        self.frame_bytes = format.frame_bytes()
        self.heard = bytearray()
        """Agent audio that played (cleared audio excluded)."""
        self.frame_sizes: list[int] = []
        self.marks_sent_back: list[str] = []
        self.clears = 0
        self.protocol_errors: list[str] = []
        self.close_code: int | None = None
        self._ws: ClientConnection | None = None
        self._queue: deque[Outbound] = deque()
        self._queued = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._index = 0
        self._sent_ms = 0
        self._changed = asyncio.Event()
        self._outbox: deque[bytes] = deque()
        self._drained = asyncio.Event()
        self._drained.set()
        self._silence_frame = (b"\xff" if format == MULAW_8K else b"\x00") * self.frame_bytes
        self.closed = asyncio.Event()

    async def __aenter__(self) -> SimulatedCaller:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        self._ws = await connect(self.url, additional_headers=self.headers, max_size=2**22)
        connected = self.dialect.connected()
        if connected is not None:
            await self._ws.send(connected)
        await self._ws.send(self.dialect.start())
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._receive()), loop.create_task(self._play())]
        if self.realtime:
            self._tasks.append(loop.create_task(self._line()))

    # -- the caller's actions ------------------------------------------------------------------

    async def say(self, audio: bytes) -> None:
        """Speak ``audio`` (wire format); returns once it has all been sent (in real time when ``realtime``)."""
        frames = [audio[i : i + self.frame_bytes] for i in range(0, len(audio), self.frame_bytes)]
        if frames and len(frames[-1]) < self.frame_bytes:
            frames[-1] += self._silence_frame[len(frames[-1]) :]
        if not self.realtime:
            for frame in frames:
                await self._send_frame(frame)
            return
        self._outbox.extend(frames)
        self._drained.clear()
        await self._drained.wait()

    async def silence(self, ms: float) -> None:
        await self.say(self._silence_frame[:1] * self.format.bytes_for_ms(ms))

    async def _send_frame(self, frame: bytes) -> None:
        await self._send(self.dialect.media(frame, self._index, self._sent_ms))
        self._index += 1
        self._sent_ms += round(1000 * len(frame) / self.format.bytes_per_second)

    async def _line(self) -> None:
        """The phone line: one frame every 20 ms, speech when queued, silence otherwise."""
        loop = asyncio.get_running_loop()
        frame_s = self.frame_bytes / self.format.bytes_per_second
        start, n = loop.time(), 0
        try:
            while True:
                frame = self._outbox.popleft() if self._outbox else self._silence_frame
                if not self._outbox:
                    self._drained.set()
                await self._send_frame(frame)
                n += 1
                await asyncio.sleep(max(0.0, start + n * frame_s - loop.time()))
        except ConnectionClosed:
            self._drained.set()

    async def press(self, digit: str) -> None:
        await self._send(self.dialect.dtmf(digit))

    async def hang_up(self) -> None:
        """The caller hangs up: ``stop``, then the socket closes."""
        with contextlib.suppress(ConnectionClosed):
            await self._send(self.dialect.stop())
        await self.close()

    async def drop(self) -> None:
        """The socket goes away without ``stop``."""
        await self.close()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._ws is not None:
            await self._ws.close()
            self.close_code = self._ws.close_code
        self.closed.set()

    async def _send(self, message: str) -> None:
        if self._ws is None:
            raise RuntimeError("connect() first")
        await self._ws.send(message)

    # -- what the agent sends ------------------------------------------------------------------

    async def _receive(self) -> None:
        assert self._ws is not None
        try:
            async for message in self._ws:
                try:
                    parsed = self.dialect.parse_outbound(message)
                except ValueError as exc:
                    self.protocol_errors.append(str(exc))
                    continue
                if parsed is None:
                    continue
                kind, value = parsed
                if kind == "media":
                    self.frame_sizes.append(len(value))
                    self._queue.append(parsed)
                elif kind == "mark":
                    self._queue.append(parsed)
                elif kind == "clear":
                    self.clears += 1
                    pending = [v for k, v in self._queue if k == "mark"]
                    self._queue.clear()
                    for name in pending:
                        await self._echo(name)
                self._queued.set()
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self._ws.close_code
            self.closed.set()
            self._changed.set()

    async def _play(self) -> None:
        frame_s = self.frame_bytes / self.format.bytes_per_second
        while True:
            if not self._queue:
                self._queued.clear()
                await self._queued.wait()
                continue
            kind, value = self._queue[0]
            if kind == "media":
                await asyncio.sleep(frame_s)
                if not self._queue or self._queue[0][1] is not value:
                    continue  # cleared meanwhile
                self._queue.popleft()
                self.heard += value
            else:
                self._queue.popleft()
                await self._echo(value)
            self._changed.set()

    async def _echo(self, name: str) -> None:
        self.marks_sent_back.append(name)
        with contextlib.suppress(ConnectionClosed):
            await self._send(self.dialect.mark(name))

    # -- observing -----------------------------------------------------------------------------

    @property
    def heard_ms(self) -> float:
        return self.format.duration_ms(len(self.heard))

    @property
    def queued_ms(self) -> float:
        return self.format.duration_ms(sum(len(v) for k, v in self._queue if k == "media"))

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        await wait_until(predicate, timeout=timeout, changed=self._changed)

    async def wait_silence(self, quiet_ms: float = 600, timeout: float = 20.0) -> None:
        """Wait until the agent has been silent (nothing queued or arriving) for ``quiet_ms``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last = (len(self.heard), len(self.frame_sizes))
        quiet_since = loop.time()
        while loop.time() < deadline:
            await asyncio.sleep(0.02)
            now = (len(self.heard), len(self.frame_sizes))
            if now != last or self._queue:
                last, quiet_since = now, loop.time()
            elif (loop.time() - quiet_since) * 1000 >= quiet_ms:
                return
        raise TimeoutError("the agent kept talking")
