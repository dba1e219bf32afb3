"""Engine mode: a speech-to-speech engine hears the caller and speaks back.

Caller audio is converted once (or passed through when the engine accepts the wire format) and
streamed to the engine. Agent audio is played by the session's player, one segment per engine item.

Barge-in: when the engine hears the caller start speaking while agent audio is still queued or
playing, the carrier's buffer is cleared at once, and each interrupted item is truncated at the
position the caller actually heard (from acknowledged marks) -- never for an item that finished
playing, and never past the audio delivered. Audio still arriving for an interrupted item is dropped.

Guardrails run on the agent's transcript as it streams; a blocked sentence stops the audio, cancels
the response and the guardrail's replacement is spoken instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import TYPE_CHECKING

from patter_core.audio import Converter
from patter_core.guardrails import check_all
from patter_core.interfaces.engine import (
    AgentAudio,
    AgentTranscript,
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerTranscript,
    EngineConfig,
    EngineError,
    EngineInterrupted,
    EngineSession,
    ResponseDone,
    ResponseStarted,
    ToolCallRequested,
)
from patter_core.session.early_audio import EarlyAudio
from patter_core.session.metrics import TurnMetrics
from patter_core.session.record import TranscriptEntry
from patter_core.session.stall import ProviderStalled

if TYPE_CHECKING:
    from patter_core.session.call import CallSession

__all__ = ["EngineMode"]

log = logging.getLogger("patter.engine")
_SENTENCE_END = re.compile(r"[.!?…]\s*$|\n")


class EngineMode:
    def __init__(self, session: CallSession) -> None:
        self.s = session
        assert session.agent.engine is not None
        self.engine = session.agent.engine
        self.es: EngineSession | None = None
        self._in: Converter | None = None
        self._transcripts: dict[str, str] = {}
        self._checked: dict[str, int] = {}
        self._interrupted: set[str] = set()
        self._audio_ms: dict[str, float] = {}
        self._entries: dict[str, TranscriptEntry] = {}
        self._heard: dict[str, float] = {}
        self._response_active = False
        self._response_done = asyncio.Event()
        self._response_done.set()
        self._turn: TurnMetrics | None = None
        self._turns = 0
        self._send_failed = False
        self._early = EarlyAudio()
        self._owed = False
        """The engine owes the call a reply (first message, :meth:`say`, a tool result sent) and has
        not started it yet; with ``_response_active`` this arms the stall watchdog in :meth:`run`."""

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.s
        wire = s.channel.format
        config = EngineConfig(
            instructions=s.agent.system_prompt,
            tools=[t.spec for t in s.tools.values()],
            first_message=s.agent.first_message,
            input_format=wire,
            output_format=wire,
            language=s.agent.language,
            call=s.call,
            variables={"caller": s.call.caller, "callee": s.call.callee, **s.agent.variables},
        )
        self.es = await self.engine.connect(config)
        self._in = Converter(wire, self.es.input_format)
        s.record.add_event(
            "engine_connected",
            input_format=str(self.es.input_format),
            output_format=str(self.es.output_format),
            passthrough=self._in.passthrough,
        )
        self._owed = bool(s.agent.first_message)
        for payload in self._early.drain():
            await self.on_audio(payload)

    async def run(self) -> None:
        """Handle engine events until the engine session ends.

        Stall watchdog: while a reply is owed or in progress, the engine must send *something* within
        ``stall_timeout_s`` (audio, a transcript, the response's end ...); otherwise the call counts the
        engine as failed (:class:`ProviderStalled`) rather than leaving the caller in silence forever.
        A quiet engine with nothing owed (the caller is thinking) is not a stall.
        """
        assert self.es is not None
        events = aiter(self.es.events())
        limit = self.s.options.stall_timeout_s
        while True:
            watching = limit is not None and (self._owed or self._response_active)
            try:
                async with asyncio.timeout(limit if watching else None):
                    event = await anext(events)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise ProviderStalled("the engine (a reply was due)", limit or 0.0) from None
            if not isinstance(event, CallerSpeechStarted | CallerSpeechStopped | CallerTranscript):
                self._owed = False  # the engine is answering
            await self._handle(event)

    async def aclose(self) -> None:
        if self.es is not None:
            await self.es.aclose()

    @property
    def busy(self) -> bool:
        return self._response_active

    async def drain_speech(self) -> None:
        await self._response_done.wait()

    async def say(self, text: str) -> None:
        """Interrupt whatever is playing and have the engine speak ``text``."""
        if self.s.player.speaking:
            await self._stop_audio(reason="say", truncate=True)
        if self.es is None:
            return
        if self._response_active:
            with contextlib.suppress(Exception):
                await self.es.cancel_response()
        try:
            await self.es.say(text)
        except NotImplementedError:
            await self.es.send_text(f"Say exactly this, then stop: {text}")
        self._response_active = True
        self._response_done.clear()
        self._owed = True

    # -- caller side ---------------------------------------------------------------------------

    async def on_audio(self, payload: bytes) -> None:
        es, conv = self.es, self._in
        if es is None or conv is None:
            self._early.add(payload)  # the caller spoke before the engine was connected
            return
        data = payload if conv.passthrough else conv.convert(payload)
        if not data:
            return
        try:
            await es.send_audio(data)
            self._send_failed = False
        except Exception as exc:  # the events() side reports the failure; do not spam the log
            if not self._send_failed:
                log.warning("call %s: sending audio to the engine failed: %s", self.s.call.call_id, exc)
            self._send_failed = True

    async def on_dtmf(self, digit: str) -> None:
        es = self.es
        if es is None:
            return
        try:
            await es.send_text(f"(The caller pressed the {digit} key on the keypad.)")
        except NotImplementedError:
            log.debug("engine cannot take text input; DTMF %s recorded only", digit)

    # -- engine events -------------------------------------------------------------------------

    async def _handle(self, event: object) -> None:
        s = self.s
        if isinstance(event, AgentAudio):
            item = event.item_id or "agent"
            if item in self._interrupted:
                return
            assert self.es is not None
            if self._turn is not None and self._turn.tts_first_byte_at is None:
                self._turn.tts_first_byte_at = _now()
            fmt = event.format or self.es.output_format
            self._audio_ms[item] = self._audio_ms.get(item, 0.0) + fmt.duration_ms(len(event.data))
            s.player.play(item, event.data, fmt)
            if self._turn is not None and self._turn.first_audio_at is None:
                self._turn.first_audio_at = _now()
                s.record.add_turn(self._turn)
        elif isinstance(event, AgentTranscript):
            await self._on_agent_text(event)
        elif isinstance(event, CallerSpeechStarted):
            await self._barge_in()
        elif isinstance(event, CallerSpeechStopped):
            self._turn = TurnMetrics(index=self._turns, mode="engine", speech_end_at=_now())
            self._turn.vad_end_at = self._turn.speech_end_at
            self._turns += 1
        elif isinstance(event, CallerTranscript):
            if event.final and event.text.strip():
                s.record.add_transcript("caller", event.text.strip())
                if self._turn is not None and self._turn.stt_final_at is None:
                    self._turn.stt_final_at = _now()
        elif isinstance(event, ToolCallRequested):
            if self._turn is not None:
                self._turn.tool_calls += 1
            s.scope.spawn(self._run_tool(event), name=f"tool-{event.name}")
        elif isinstance(event, ResponseStarted):
            self._response_active = True
            self._response_done.clear()
        elif isinstance(event, ResponseDone):
            self._response_active = False
            self._response_done.set()
            for segment in s.player.in_flight():
                s.player.end_segment(segment)
        elif isinstance(event, EngineInterrupted):
            await self._stop_audio(reason="engine")
        elif isinstance(event, EngineError):
            log.warning("call %s: engine error %s: %s", s.call.call_id, event.code, event.message)
            s.record.add_event(
                "error", source="engine", code=event.code, message=event.message, fatal=event.fatal
            )

    async def _run_tool(self, event: ToolCallRequested) -> None:
        result = await self.s.run_tool(event.name, event.arguments)
        if self.s.ended or self.es is None:
            return
        try:
            await self.es.send_tool_result(event.call_id, result.output, is_error=result.error)
            self._owed = True  # the engine continues after a tool result
        except Exception as exc:
            log.warning("call %s: could not return the %s result: %s", self.s.call.call_id, event.name, exc)

    # -- barge-in and guardrails ---------------------------------------------------------------

    async def _barge_in(self) -> None:
        if not self.s.player.speaking:
            return
        await self._stop_audio(reason="caller", truncate=True)

    async def _stop_audio(self, *, reason: str, truncate: bool = False) -> dict[str, float]:
        """Clear the carrier; truncate each interrupted item at what was heard; drop its late audio."""
        s = self.s
        heard: dict[str, float] = {}
        for segment in s.player.in_flight():
            if s.tracker.finished(segment):
                continue
            heard[segment] = s.tracker.played_ms(segment)
            self._interrupted.add(segment)
        await s.player.clear()
        s.record.add_event("barge_in", source=reason, heard_ms=heard)
        for item, ms in heard.items():
            self._cut_transcript(item, ms)
        if self._turn is not None:
            self._turn.barge_ins += 1
            self._turn.interrupted = True
        if truncate and self.es is not None and self.engine.capabilities.truncate:
            for item, ms in heard.items():
                try:
                    await self.es.truncate(item, int(ms))
                except Exception as exc:
                    log.warning("call %s: truncate of %s failed: %s", s.call.call_id, item, exc)
        return heard

    async def _on_agent_text(self, event: AgentTranscript) -> None:
        s = self.s
        item = event.item_id or "agent"
        if event.final:
            text = event.text.strip() or self._transcripts.get(item, "").strip()
        else:
            text = self._transcripts.get(item, "") + event.text
            self._transcripts[item] = text
        if s.agent.guardrails and item not in self._interrupted:
            checked = self._checked.get(item, 0)
            if event.final or (_SENTENCE_END.search(text) and len(text) > checked):
                self._checked[item] = len(text)
                verdict = await check_all(s.agent.guardrails, text)
                if verdict.blocked:
                    await self._block(item, verdict.guardrail, verdict.text)
                    return
        if event.final and text:
            self._transcripts.pop(item, None)
            self._checked.pop(item, None)
            if item in self._interrupted:
                heard = _first_words(
                    text, self._heard.get(item, 0.0) / max(self._audio_ms.get(item, 0.0), 1e-9)
                )
                s.record.add_transcript("agent", heard, interrupted=True, full_text=text)
            else:
                s.record.add_transcript("agent", text)
                self._entries[item] = s.record.transcript[-1]

    def _cut_transcript(self, item: str, heard_ms: float) -> None:
        """An item was interrupted: its record entry keeps only the share of words that was heard."""
        self._heard[item] = heard_ms
        entry = self._entries.pop(item, None)
        if entry is None:
            return
        total = self._audio_ms.get(item, 0.0)
        entry.full_text = entry.text
        entry.text = _first_words(entry.text, heard_ms / total if total else 0.0)
        entry.interrupted = True

    async def _block(self, item: str, rail: str | None, replacement: str) -> None:
        s = self.s
        s.record.add_event("guardrail", guardrail=rail, item_id=item)
        await self._stop_audio(reason="guardrail", truncate=True)
        self._interrupted.add(item)
        if self.es is None:
            return
        with contextlib.suppress(Exception):
            await self.es.cancel_response()
        if self.engine.capabilities.say:
            try:
                await self.es.say(replacement)
            except NotImplementedError:
                log.info("engine cannot speak the guardrail replacement; the blocked audio was stopped")


def _first_words(text: str, fraction: float) -> str:
    words = text.split()
    return " ".join(words[: int(len(words) * min(1.0, max(0.0, fraction)))])


def _now() -> float:
    return asyncio.get_running_loop().time()
