"""The simulated phone lines of ``bench/load.py`` (Twilio's side of each call) and how they measure.

Each :class:`Line` does what Twilio does once the voice webhook has answered: opens the TwiML's
``<Stream>`` with a signed upgrade, sends ``connected`` and ``start`` with the token, then one 20 ms
mu-law ``media`` frame every 20 ms for the whole call (a single :class:`Ticker` serves every line: no
task or coroutine per frame); it plays what it receives at real time, echoes each mark once the audio
before it has played, answers ``clear`` by echoing its pending marks, and hangs up (``stop``) when the
whole reply has arrived. Lines are :class:`_ws.LeanWebSocket` protocols, so hundreds of them cost a
fraction of a core.

Lateness (the capacity criterion). Frame ``k`` (from 0) of a call's reply is due at
``t0 + k * 20 ms``, ``t0`` being the arrival of the reply's first frame: the real-time schedule a
phone line plays it on. ``lateness = max(0, arrival - due)``; frames later than 20 ms are counted.
Only frames arriving in the measurement window (every call up and streaming) count. A server that
keeps up delivers every frame on (or ahead of) that grid; one that falls behind -- a stall, or too
many calls for the core -- delivers later and later frames.

What the caller hears, for comparison: the line plays frames back to back, 20 ms each, waiting when
the next has not arrived (silence; nothing dropped, nothing played early). ``heard`` is the silence a
line has inserted since its first frame in the window, ``gaps`` the waits over 20 ms. A bare relay
bursts a backlog to the carrier, Patter's player keeps the carrier at most 200 ms ahead; the listener
hears the same either way, and a steadily late stream (a saturated server) plays without gaps.

Transit: the fake stamps each 100 ms audio delta when it sends it; the arrival of that delta's first
20 ms frame at the line minus that stamp is the time the audio spent in the server (plus one turn of
this process's event loop). Dropped = frames of the reply never received by the time the call ended.
The instruments: lines and the fake share this process and its clock; its garbage collector is off
during a step (a collection would stall every line at once).

Transit: the fake stamps each 100 ms audio delta when it sends it; the arrival of that delta's first
20 ms frame at the line minus that stamp is the time the audio spent in the server (plus one turn of
this process's event loop). The other way, each caller frame carries its line and index in its audio
(passed through untouched to the engine), so the fake times it too. Dropped = frames of the reply never
received by the time the call ended.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from typing import Any

from _ws import LeanWebSocket
from patter_openai.testing import FakeRealtimeConnection

FRAME_S = 0.020


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Step:
    """Everything one ramp step measures."""

    def __init__(self, n: int, w0: float, w1: float) -> None:
        self.n, self.w0, self.w1 = n, w0, w1
        self.lat: list[float] = []
        self.heard: list[float] = []
        self.transit: list[float] = []
        self.inbound: list[float] = []
        self.barge: list[float] = []
        self.gaps = 0
        self.first_audio: list[float] = []
        self.failures: list[str] = []
        self.frames_sent = 0
        self.marks_echoed = 0
        self.unexpected: list[str] = []


class Ticker:
    """Sends every line's next frame on its own 20 ms grid, with one timer for all lines.

    A line joins in the 1 ms slot of the grid where it starts; the ticker wakes at each millisecond
    and serves that slot's lines (and any slot it missed, in order, if the loop was late).
    """

    SLOTS = 20

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.slots: list[dict[Line, None]] = [{} for _ in range(self.SLOTS)]
        self.origin = self.loop.time()
        self.next_ms = 0
        self.handle: asyncio.TimerHandle | None = None

    def add(self, line: Line) -> None:
        slot = int((self.loop.time() - self.origin) * 1000) % self.SLOTS
        self.slots[slot][line] = None
        line.send_frame()
        if self.handle is None:
            self.next_ms = int((self.loop.time() - self.origin) * 1000) + 1
            self.handle = self.loop.call_at(self.origin + self.next_ms / 1000, self._run)

    def discard(self, line: Line) -> None:
        for slot in self.slots:
            slot.pop(line, None)

    def _run(self) -> None:
        # a timer may fire a little before its deadline (loops round to the millisecond): count it due
        now_ms = int((self.loop.time() - self.origin) * 1000 + 0.9)
        while self.next_ms <= now_ms:
            for line in list(self.slots[self.next_ms % self.SLOTS]):
                line.send_frame()
            self.next_ms += 1
        if any(self.slots):
            self.handle = self.loop.call_at(self.origin + self.next_ms / 1000, self._run)
        else:
            self.handle = None


class Line(LeanWebSocket):
    """One Twilio media stream, caller side."""

    def __init__(
        self,
        step: Step,
        *,
        call_sid: str,
        stream_sid: str,
        parameters: dict[str, str],
        expected: int,
        payloads: list[bytes],
        ticker: Ticker,
    ) -> None:
        super().__init__()
        self.ticker = ticker
        self.step = step
        self.call_sid, self.stream_sid = call_sid, stream_sid
        self.parameters = parameters
        self.expected = expected
        self.payloads = payloads
        self.conn: Any = None
        """The engine fake's connection serving this call (found from the marker in its first frame)."""
        self.index = next(_line_ids)
        LINES[self.index] = self
        self.head = _MARKER + self.index.to_bytes(4, "big")
        self.sent_at: list[float] = []
        """``time.monotonic()`` at which each caller frame was sent (its index is in the payload)."""
        self.barging = False
        self.barge_sent: float | None = None
        self.received = 0
        self.t0 = 0.0
        self.in_window = False
        self.behind = 0.0
        """Silence played since the line's first frame in the window: how far it is behind the grid."""
        self.play_end = 0.0
        self.seq = 0
        self.chunk = 0
        self.pending_marks: dict[str, asyncio.TimerHandle] = {}
        self.started_at = 0.0
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.tail = f'"}},"streamSid":"{stream_sid}"}}'

    def _seq(self) -> int:
        self.seq += 1
        return self.seq

    def begin(self) -> None:
        self.send_text(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        start = {
            "event": "start",
            "sequenceNumber": str(self._seq()),
            "start": {
                "accountSid": "AC" + "0" * 32,
                "streamSid": self.stream_sid,
                "callSid": self.call_sid,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": self.parameters,
            },
            "streamSid": self.stream_sid,
        }
        self.send_text(json.dumps(start))
        self.started_at = time.monotonic()
        self.ticker.add(self)

    def send_frame(self) -> None:
        """The next 20 ms of the caller's line (called by the :class:`Ticker`)."""
        chunk = self.chunk
        self.chunk = chunk + 1
        self.seq += 1
        # the caller's audio, marked (line, frame) so the fake can time its trip through the server
        payload = base64.b64encode(self.head + chunk.to_bytes(4, "big") + self.payloads[chunk % 50]).decode()
        self.sent_at.append(time.monotonic())
        self.send_text(
            f'{{"event":"media","sequenceNumber":"{self.seq}","media":{{"track":"inbound",'
            f'"chunk":"{chunk + 1}","timestamp":"{chunk * 20}","payload":"{payload}' + self.tail
        )
        self.step.frames_sent += 1

    def on_text(self, payload: bytes, now: float) -> None:
        if payload.startswith(b'{"event":"media"'):
            k = self.received
            self.received = k + 1
            step = self.step
            if k == 0:
                self.t0 = now
                step.first_audio.append(now - self.started_at)
            play_end = self.play_end
            wait = now - play_end if k and now > play_end else 0.0  # silence the line played waiting
            self.play_end = (play_end if play_end > now else now) + FRAME_S
            if step.w0 <= now < step.w1:
                if self.in_window:
                    self.behind += wait
                    if wait > 0.020:
                        step.gaps += 1
                else:  # the line's first frame in the window: the grid starts here
                    self.in_window = True
                step.heard.append(self.behind)
                grid = now - self.t0 - k * FRAME_S
                step.lat.append(grid if grid > 0.0 else 0.0)
                conn = self.conn
                if k % 5 == 0 and conn is not None:  # first frame of the fake's 100 ms delta k // 5
                    sent = conn.delta_times
                    if k // 5 < len(sent):
                        step.transit.append(now - sent[k // 5])
            if self.received >= self.expected:
                self.hang_up()
            return
        try:
            message = json.loads(payload)
        except ValueError:
            self.step.unexpected.append(payload[:80].decode("latin-1"))
            return
        event = message.get("event")
        if event == "mark":
            name = message["mark"]["name"]
            if self.play_end <= now:
                self._echo(name)
            else:
                self.pending_marks[name] = self.loop.call_at(self.play_end, self._echo, name)
        elif event == "clear":
            self.play_end = now
            for name, handle in list(self.pending_marks.items()):
                handle.cancel()
                self._echo(name)
            if self.barging and self.barge_sent is not None:  # the barge-in probe: engine said "speech"
                self.step.barge.append(now - self.barge_sent)
                self.expected = self.received  # the rest of the reply was cut, as it should be
                self.hang_up()
        else:
            self.step.unexpected.append(str(event))

    def barge(self) -> None:
        """The caller starts talking over the agent: the engine fake reports speech (server VAD)."""
        if self.conn is not None and self.is_open and not self.barging:
            self.barging = True
            task = asyncio.ensure_future(self.conn.speech_started())
            _BACKGROUND.add(task)
            task.add_done_callback(_BACKGROUND.discard)

    def _echo(self, name: str) -> None:
        self.pending_marks.pop(name, None)
        self.step.marks_echoed += 1
        self.send_text(
            json.dumps(
                {
                    "event": "mark",
                    "sequenceNumber": str(self._seq()),
                    "streamSid": self.stream_sid,
                    "mark": {"name": name},
                }
            )
        )

    def hang_up(self) -> None:
        self.ticker.discard(self)
        for handle in self.pending_marks.values():
            handle.cancel()
        self.pending_marks.clear()
        if self.is_open:
            self.send_text(
                json.dumps(
                    {
                        "event": "stop",
                        "sequenceNumber": str(self._seq()),
                        "streamSid": self.stream_sid,
                        "stop": {"accountSid": "AC" + "0" * 32, "callSid": self.call_sid},
                    }
                )
            )
        if not self.done.done():
            self.done.set_result(None)

    def on_closed(self) -> None:
        self.ticker.discard(self)
        if not self.done.done():
            self.done.set_result(None)


_BACKGROUND: set[asyncio.Future[Any]] = set()
_MARKER = b"PTTR"
_line_ids = itertools.count(1)
LINES: dict[int, Line] = {}


def instrument_fake() -> None:
    """Record when the fake sends each audio delta, and which line each fake connection serves.

    (Harness-only wrappers around the fake's methods, in this process: the transit time of each delta
    through the server is then ``arrival of its first frame at the line - its send time``.)
    """
    original_send = FakeRealtimeConnection.send
    original_append = FakeRealtimeConnection._on_input_audio_buffer_append

    async def send(self: Any, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "response.output_audio.delta":
            times = self.__dict__.setdefault("delta_times", [])
            times.append(time.monotonic())
        elif kind == "input_audio_buffer.speech_started":
            line = self.__dict__.get("line")
            if line is not None:
                line.barge_sent = time.monotonic()
        await original_send(self, event)

    async def append(self: Any, event: dict[str, Any], event_id: object) -> None:
        data = base64.b64decode(event["audio"])
        if data[:4] == _MARKER:
            line = LINES.get(int.from_bytes(data[4:8], "big"))
            if line is not None:
                if "line" not in self.__dict__:
                    self.line, line.conn = line, self
                    self.__dict__.setdefault("delta_times", [])
                chunk = int.from_bytes(data[8:12], "big")
                now = time.monotonic()
                step = line.step
                if step.w0 <= now < step.w1 and chunk < len(line.sent_at):
                    step.inbound.append(now - line.sent_at[chunk])
        await original_append(self, event, event_id)

    FakeRealtimeConnection.send = send  # type: ignore[method-assign]
    FakeRealtimeConnection._on_input_audio_buffer_append = append  # type: ignore[method-assign]
