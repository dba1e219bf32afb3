"""One call, from the first media frame to the record handed to ``on_call_end``.

:class:`CallSession` owns everything the call uses -- its tasks (a :class:`TaskScope`), the outbound
:class:`Player`, the playback tracker, the per-call provider sessions opened by its mode, the
recording and the :class:`CallRecord` -- and ends all of them when the call ends, whichever way it
ends: the caller hangs up, the agent calls ``end_call``, a transfer, the duration limit, a provider
failure that cannot be recovered, or the server shutting down.

The data flow is the one in DESIGN.md: caller frames go from the carrier's channel to the mode
(:class:`~patter_core.session.engine_mode.EngineMode` or
:class:`~patter_core.session.pipeline_mode.PipelineMode`); agent audio goes from the mode to the player.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from patter_core.agent import Agent, OnMessage
from patter_core.audio import (
    PCM16_8K,
    PCM16_16K,
    Converter,
    PlaybackTracker,
    StereoRecorder,
    dtmf_tones,
    pcm16_from_bytes,
    pcm16_to_bytes,
)
from patter_core.errors import CarrierError, PatterError, ProviderError
from patter_core.interfaces.carrier import (
    AudioReceived,
    CallInfo,
    Carrier,
    DtmfReceived,
    MarkPlayed,
    MediaChannel,
    StreamStopped,
    WarmTransfer,
)
from patter_core.session.player import Player
from patter_core.session.record import CallRecord, RecordSink
from patter_core.session.scope import TaskScope
from patter_core.session.stall import ProviderStalled
from patter_core.session.system_tools import system_tools
from patter_core.tools import Tool, ToolContext, ToolResult

__all__ = ["APOLOGY", "SHUTDOWN_MESSAGE", "CallSession", "SessionOptions"]

log = logging.getLogger("patter.session")

APOLOGY = "Sorry, we're having technical difficulties. Please call back in a few minutes. Goodbye."
_CARRIER_TIMEOUT_S = 10.0
"""Longest wait for a carrier's hang-up request; the stream is closed from our side after it."""
SHUTDOWN_MESSAGE = "Sorry, we have to end this call now. Please call back in a moment. Goodbye."
"""Spoken by the carrier to callers still on the line when the server shuts down."""


@attrs.define(kw_only=True)
class SessionOptions:
    """Tunables of the session loop (the defaults suit telephone calls)."""

    lead_ms: float = 200.0
    """How far ahead of real time agent audio is sent to the carrier."""
    mark_interval_ms: float = 100.0
    """Playback granularity: a mark every this many ms of agent audio (and at each segment's end)."""
    hangup_wait_s: float = 10.0
    """How long a hang-up or transfer waits for the agent's current speech to finish."""
    recording_path: str | None = None
    """Write a stereo WAV (caller left, agent right) here."""
    record_sink: RecordSink | None = None
    records_dir: str | None = None
    """Append the call record to ``<records_dir>/<call id>.jsonl`` entry by entry, as it happens
    (see :mod:`patter_core.session.record_sink`)."""
    connect_timeout_s: float = 15.0
    """Longest wait for the call's providers to connect; then the caller hears the apology."""
    stall_timeout_s: float | None = 15.0
    """Longest silence of a provider that owes the call something (an engine reply in progress, the
    next piece of an LLM reply, the next chunk of speech) before it counts as failed."""
    voicemail_ready_s: float = 3.0
    """A machine verdict that arrives before the agent has started speaking (synchronous machine
    detection always does) waits for the agent's first audio, or this long after the providers
    connected (an agent with no first message may stay silent), before the message is spoken."""


class CallSession:
    """Runs one call; see the module docstring."""

    def __init__(
        self,
        *,
        agent: Agent,
        channel: MediaChannel,
        carrier: Carrier | None = None,
        on_message: OnMessage | None = None,
        options: SessionOptions | None = None,
    ) -> None:
        options = options or SessionOptions()
        agent.check_complete(on_message=on_message)
        self.agent = agent
        self.channel = channel
        self.carrier = carrier
        self.call: CallInfo = channel.call
        self.options = options
        sink = options.record_sink
        if options.records_dir:
            from patter_core.session.record_sink import JsonlRecordSink, tee_sinks

            sink = tee_sinks(sink, JsonlRecordSink(options.records_dir, self.call, mode=agent.mode))
        self.record = CallRecord(call=self.call, mode=agent.mode, sink=sink)
        self.scope = TaskScope(f"call-{self.call.call_id}")
        self.tracker = PlaybackTracker()
        self.recorder: StereoRecorder | None = None
        self._caller_pcm: Converter | None = None
        self._caller_started = False
        self._agent_pcm: Converter | None = None
        if options.recording_path:
            self.recorder = StereoRecorder(options.recording_path, sample_rate=PCM16_16K.sample_rate)
            self.record.recording_path = options.recording_path
            self._caller_pcm = Converter(channel.format, PCM16_16K)
            self._agent_pcm = Converter(channel.format, PCM16_16K)
        self.player = Player(
            channel,
            self.tracker,
            lead_ms=options.lead_ms,
            mark_interval_ms=options.mark_interval_ms,
            on_frame=self._record_agent_frame if self.recorder else None,
            on_clear=self._record_clear if self.recorder else None,
        )
        self.tools: dict[str, Tool] = {t.name: t for t in agent.tools}
        if carrier is not None:
            self.tools.update({t.name: t for t in system_tools(self)})
        self._ended = asyncio.Event()
        self._end_reason: str | None = None
        self._ending: str | None = None
        """Why the call is about to end from our side (a hang-up or transfer in progress)."""
        self._failure: str | None = None
        """Set by :meth:`fail`: a provider failed beyond recovery; :meth:`run` apologises and ends."""
        self._t0 = asyncio.get_running_loop().time()
        self._mode_started = asyncio.Event()
        self._voicemail: asyncio.Task[None] | None = None
        self.mode = self._make_mode(on_message)

    def _make_mode(self, on_message: OnMessage | None) -> Any:
        if self.agent.engine is not None:
            from patter_core.session.engine_mode import EngineMode

            return EngineMode(self)
        from patter_core.session.pipeline_mode import PipelineMode

        return PipelineMode(self, on_message=on_message or self.agent.on_message)

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self) -> CallRecord:
        """Run the call to its end and return its record. Never raises for call-level failures."""
        self.record.add_event("call_started", carrier=self.call.carrier, direction=self.call.direction)
        reader = self.scope.spawn(self._read_media(), name="media-reader")
        self.scope.spawn(self.player.run(), name="player")
        try:
            async with asyncio.timeout(self.agent.max_call_duration_s):
                starting = self.scope.spawn(self._start_mode(), name="mode-start")
                ended = self.scope.spawn(self._ended.wait(), name="end-signal")
                await asyncio.wait({reader, starting, ended}, return_when=asyncio.FIRST_COMPLETED)
                if self._failure is not None:
                    raise ProviderError(self._failure)
                if not starting.done():  # the caller hung up (or the call ended) while providers connected
                    self.end(self._ending or "caller hung up")
                else:
                    starting.result()  # a provider that could not connect: raises (apology below)
                    self._mode_started.set()
                    mode_task = self.scope.spawn(self.mode.run(), name="mode")
                    done, _ = await asyncio.wait(
                        {reader, mode_task, ended}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if self._failure is not None:
                        raise ProviderError(self._failure)
                    if reader in done:
                        self.end(self._ending or "caller hung up")
                    elif mode_task in done and not mode_task.cancelled():
                        error = mode_task.exception()
                        if error is not None:
                            raise error
                        if not self.ended:  # the engine closed the conversation itself
                            await self.hang_up("the engine ended the conversation")
        except TimeoutError:
            log.info("call %s reached max_call_duration_s", self.call.call_id)
            await self._hangup_quietly(
                "max call duration reached", message="We've reached the time limit for this call. Goodbye."
            )
        except PatterError as exc:
            log.error("call %s: provider failure, ending the call: %s", self.call.call_id, exc)
            self.record.add_event("error", message=str(exc), fatal=True)
            await self._hangup_quietly(f"provider failure: {exc}", message=APOLOGY)
        except asyncio.CancelledError:
            self.end("server shutdown")
            raise
        except Exception as exc:
            log.exception("call %s: unexpected error, ending the call", self.call.call_id)
            self.record.add_event("error", message=f"{type(exc).__name__}: {exc}", fatal=True)
            await self._hangup_quietly("internal error", message=APOLOGY)
        finally:
            await asyncio.shield(self._shutdown())
        return self.record

    async def _start_mode(self) -> None:
        """Connect the mode's providers, bounded by ``connect_timeout_s`` (a stalled connect is a failure)."""
        timeout = self.options.connect_timeout_s
        try:
            async with asyncio.timeout(timeout):
                await self.mode.start()
        except TimeoutError:
            raise ProviderStalled("the call's providers (connecting)", timeout) from None

    def fail(self, reason: str) -> None:
        """A provider failed beyond recovery (called from the mode's tasks): :meth:`run` speaks the
        apology through the carrier and ends the call."""
        if self._failure is None:
            self._failure = reason
        self._ended.set()

    async def shut_down(self, message: str | None = SHUTDOWN_MESSAGE) -> None:
        """End the call because the server is stopping: the carrier says ``message`` and hangs up."""
        if self.ended:
            return
        self.record.add_event("hangup", reason="server shutdown", message=message)
        self._ending = "server shutdown"
        await self._hangup_quietly("server shutdown", message=message, end_first=False)

    def end(self, reason: str) -> None:
        """Ask the call to end (the first reason given wins)."""
        if self._end_reason is None:
            self._end_reason = reason
        self._ended.set()

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    async def _shutdown(self) -> None:
        self.end("call ended")
        self.player.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.mode.aclose(), 5)
        await self.scope.aclose()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.channel.close(self._end_reason or ""), 5)
        if self.recorder is not None:
            self.recorder.close()
        self.record.finish(self._end_reason or "call ended")

    async def _hangup_quietly(
        self, reason: str, *, message: str | None = None, end_first: bool = True
    ) -> None:
        if end_first:
            self.end(reason)
        try:
            if self.carrier is not None:
                await asyncio.wait_for(self.carrier.hangup(self.call, message=message), _CARRIER_TIMEOUT_S)
        except Exception as exc:
            log.warning("call %s: hang-up failed: %s", self.call.call_id, exc)
        finally:
            self.end(reason)

    # -- media in ------------------------------------------------------------------------------

    async def _read_media(self) -> None:
        on_audio = self.mode.on_audio
        async for event in self.channel.events():
            if type(event) is AudioReceived:
                if self.recorder is not None:
                    self._record_caller(event.payload)
                await on_audio(event.payload)
            elif isinstance(event, MarkPlayed):
                self.player.on_mark(event.name)
            elif isinstance(event, DtmfReceived):
                self.record.add_event("dtmf", digit=event.digit)
                await self.mode.on_dtmf(event.digit)
            elif isinstance(event, StreamStopped):
                break

    def _record_caller(self, payload: bytes) -> None:
        assert self.recorder is not None and self._caller_pcm is not None
        at_ms = None if self._caller_started else self.clock_ms()
        self._caller_started = True
        self.recorder.write_caller(pcm16_from_bytes(self._caller_pcm.convert(payload)), at_ms=at_ms)

    def _record_clear(self) -> None:
        if self.recorder is not None:
            self.recorder.clear_agent(self.clock_ms())

    def _record_agent_frame(self, frame: bytes, play_at: float) -> None:
        if self.recorder is None or self._agent_pcm is None:
            return
        at_ms = (play_at - self._t0) * 1000
        self.recorder.write_agent(pcm16_from_bytes(self._agent_pcm.convert(frame)), at_ms=at_ms)

    def clock_ms(self) -> float:
        """Milliseconds since the session started (the call clock)."""
        return (asyncio.get_running_loop().time() - self._t0) * 1000

    # -- tools and call control ------------------------------------------------------------------

    async def run_tool(self, name: str, arguments: str) -> ToolResult:
        """Run a tool the model asked for; unknown tools and failures become error results."""
        self.record.add_event("tool_call", name=name, arguments=arguments)
        selected = self.tools.get(name)
        if selected is None:
            result = ToolResult(
                output=f"error: unknown tool {name!r}; available: {', '.join(self.tools)}", error=True
            )
        else:
            if self.agent.tool_timeout_s is not None and name not in ("transfer_call", "end_call"):
                selected = attrs.evolve(selected, timeout=self.agent.tool_timeout_s)
            try:
                result = await selected.run(arguments, ToolContext(call=self.call))
            except asyncio.CancelledError:  # the call ended (hang-up) while the tool ran
                self.record.add_event(
                    "tool_result", name=name, output="cancelled: the call ended", error=True
                )
                raise
        self.record.add_event("tool_result", name=name, output=result.output, error=result.error)
        return result

    async def wait_quiet(self, timeout: float) -> None:
        """Let the agent finish what it is saying (bounded by ``timeout``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation (CPython gh-86296)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.mode.drain_speech()
        await self.player.wait_idle(max(0.0, deadline - loop.time()))

    async def send_dtmf(self, digits: str) -> None:
        """Press keys on the call: through the carrier's API when it has one, else as in-band tones."""
        self.record.add_event("dtmf_out", digits=digits)
        if self.carrier is not None and await self.carrier.send_dtmf(self.call, digits):
            return
        tones = dtmf_tones(digits, PCM16_8K.sample_rate)
        segment = f"dtmf-{len(self.record.events)}"
        self.player.play(segment, pcm16_to_bytes(tones), PCM16_8K)
        self.player.end_segment(segment)

    def machine_answered(self, message: str | None) -> None:
        """A machine answered (the carrier's verdict): leave ``message`` once the session can speak.
        Safe to call early and more than once; only the first verdict acts."""
        if self._voicemail is None and not self.ended:
            self._voicemail = self.scope.spawn(self.leave_voicemail(message), name="voicemail")

    async def leave_voicemail(self, message: str | None) -> None:
        """Speak ``message`` (in the agent's own voice) and hang up.

        Waits until the session can speak -- its providers connected and its greeting begun, or
        ``voicemail_ready_s`` after connecting -- so an early verdict is not spoken into nothing."""
        await self._mode_started.wait()  # bounded by connect_timeout_s: a failed start ends the call
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.options.voicemail_ready_s):
                await self.player.audio_started.wait()
        self.record.add_event("voicemail", message=message)
        if message:
            await self.mode.say(message)
        await self.hang_up("voicemail left" if message else "answering machine")

    async def hang_up(self, reason: str) -> None:
        """End the call from our side after the current speech has played."""
        self.record.add_event("hangup", reason=reason)
        self._ending = f"agent hung up: {reason}"
        await self.wait_quiet(self.options.hangup_wait_s)
        if self.carrier is not None:
            try:
                await asyncio.wait_for(self.carrier.hangup(self.call), _CARRIER_TIMEOUT_S)
            except (CarrierError, TimeoutError) as exc:
                log.warning(
                    "call %s: carrier hang-up failed (%s); closing the stream",
                    self.call.call_id,
                    str(exc) or "no answer",
                )
        self.end(self._ending)

    async def transfer(
        self, number: str, *, reason: str | None = None, warm: WarmTransfer | None = None
    ) -> None:
        """Transfer to an allowed ``number`` after the current speech; raises on carrier failure."""
        if self.carrier is None:
            raise CarrierError("no carrier: transfers need a phone call")
        self.record.add_event("transfer", to=number, reason=reason, warm=warm is not None)
        await self.wait_quiet(self.options.hangup_wait_s)
        self._ending = f"transferred to {number}"
        try:
            await self.carrier.transfer(self.call, number, warm=warm)
        except BaseException:
            self._ending = None
            raise
        self.end(self._ending)


OnCallEnd = Callable[[CallRecord], Awaitable[None] | None]
