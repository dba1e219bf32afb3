"""Pipeline mode: VAD + speech-to-text -> LLM or ``on_message`` -> sentences -> text-to-speech.

Each stage streams into the next, so the first sentence is being synthesised (and its first frame is
on the wire) while the model is still writing the rest of the reply.

Turn-taking: the VAD marks the caller's speech start and end; the STT stream is told both (batch
recognisers buffer between them, streaming ones finalize at the end) and its end-of-utterance
transcript starts the agent's reply.

Barge-in: caller speech sustained for ``barge_in_threshold_ms`` while the agent speaks (audio queued
or playing, or a reply being prepared) clears the carrier's buffer, cancels the LLM / TTS work in
flight, and keeps in the history only what the caller heard (see :mod:`~patter_core.session.reply`).
A reply cut before any of it was heard gives its caller text back to the next turn, so a pause
mid-sentence does not split what the caller said.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from patter_core.audio import Converter, EnergyVAD, pcm16_from_bytes
from patter_core.audio.format import AudioFormat, Encoding
from patter_core.errors import CallEnded, PatterError, ProviderError, ToolError
from patter_core.guardrails import check_all
from patter_core.interfaces.llm import ChatMessage, LLMDone, Role, TextDelta, ToolCallRequest
from patter_core.interfaces.stt import STTConfig, STTStream, Transcript
from patter_core.interfaces.tts import TTSSession
from patter_core.interfaces.vad import VADEventType, VADStream
from patter_core.session.early_audio import EarlyAudio
from patter_core.session.metrics import TurnMetrics
from patter_core.session.reply import SpokenReply
from patter_core.session.sentences import SentenceChunker
from patter_core.session.stall import bounded
from patter_core.session.system_tools import resolve_destination
from patter_core.session.turns import CallerTurn

if TYPE_CHECKING:
    from patter_core.agent import OnMessage
    from patter_core.session.call import CallSession

__all__ = ["PipelineMode"]

log = logging.getLogger("patter.pipeline")

MAX_TOOL_ROUNDS = 5
MAX_FAILED_REPLIES = 2
"""Consecutive replies lost to provider failures before the call apologises and ends: one failure is
recovered from (the next turn tries again; providers retry their own connections), a second in a row
means the caller is talking to a broken agent."""
DTMF_GAP_S = 1.5
_FLUSH = object()


class PipelineMode:
    def __init__(self, session: CallSession, *, on_message: OnMessage | None) -> None:
        agent = session.agent
        assert agent.stt is not None and agent.tts is not None
        self.s = session
        self.on_message = on_message
        self.stt, self.tts, self.llm = agent.stt, agent.tts, agent.llm
        self.vad = agent.vad or EnergyVAD(end_ms=agent.end_of_turn_silence_ms)
        self.history: list[ChatMessage] = []
        if agent.system_prompt:
            self.history.append(ChatMessage(Role.SYSTEM, agent.system_prompt))
        self.stt_stream: STTStream | None = None
        self.tts_session: TTSSession | None = None
        self.vad_stream: VADStream | None = None
        self._to_stt: Converter | None = None
        self._to_vad: Converter | None = None
        self._vad_pos_ms = 0.0
        self._frame_ms = 20.0
        self._parts: list[str] = []
        self._carry = ""
        self._reply_task: asyncio.Task[None] | None = None
        self._reply: SpokenReply | None = None
        self._last_reply: SpokenReply | None = None
        self._turns = 0
        self._pending_turn: TurnMetrics | None = None
        self._synth_idle = asyncio.Event()
        self._synth_idle.set()
        self._interrupting = False
        self._dtmf = ""
        self._dtmf_timer: asyncio.TimerHandle | None = None
        self._first_audio_watched = False
        self._turn_metrics: TurnMetrics | None = None
        self._run_started_at = -1.0
        """VAD-stream position (ms) where the current caller speech run began."""
        self._reply_began_at = 0.0
        """VAD-stream position when the agent's current reply began: only speech that starts after it
        can barge in (a VAD still in its end-of-speech hangover must not cut the reply it triggered)."""
        self._early = EarlyAudio()
        self._failed_replies = 0

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        s, wire = self.s, self.s.channel.format
        stt_formats = self.stt.capabilities.input_formats
        stt_format = wire if wire in stt_formats else stt_formats[0]
        self._to_stt = Converter(wire, stt_format)
        self.stt_stream = await self.stt.open_stream(STTConfig(format=stt_format, language=s.agent.language))
        rates = self.vad.capabilities.sample_rates
        vad_rate = wire.sample_rate if wire.sample_rate in rates else min(rates, key=lambda r: abs(r - 16000))
        self._to_vad = Converter(wire, AudioFormat(Encoding.PCM16, vad_rate))
        self.vad_stream = self.vad.create_stream(vad_rate)
        self._frame_ms = 1000 * wire.frame_bytes() / wire.bytes_per_second
        tts_formats = self.tts.capabilities.output_formats
        self.tts_session = await self.tts.open_session(wire if wire in tts_formats else tts_formats[0])
        s.record.add_event(
            "pipeline_ready",
            stt_format=str(stt_format),
            stt_passthrough=self._to_stt.passthrough,
            tts_format=str(self.tts_session.format),
            tts_passthrough=self.tts_session.format == wire,
            vad_rate=vad_rate,
        )
        if s.agent.first_message:
            self._start_reply(_one(s.agent.first_message), turn=None, caller_text=None)
        for payload in self._early.drain():
            await self.on_audio(payload)

    async def run(self) -> None:
        assert self.stt_stream is not None
        async for event in self.stt_stream.events():
            if isinstance(event, Transcript):
                await self._on_transcript(event)

    async def aclose(self) -> None:
        if self._dtmf_timer is not None:
            self._dtmf_timer.cancel()
        await self._cancel_reply()
        for closer in (self.stt_stream, self.tts_session):
            if closer is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(closer.aclose(), 3)
        if self.vad_stream is not None:
            self.vad_stream.close()

    @property
    def busy(self) -> bool:
        return self._reply_task is not None and not self._reply_task.done()

    async def drain_speech(self) -> None:
        """Wait until every sentence produced so far has been synthesised and queued."""
        await self._synth_idle.wait()

    async def say(self, text: str) -> None:
        """Interrupt whatever is playing and speak ``text`` (voicemail, announcements)."""
        if self.busy or self.s.player.speaking:
            await self._interrupt("say")
        self._start_reply(_one(text), turn=None, caller_text=None)

    # -- caller audio: VAD, STT, barge-in ------------------------------------------------------

    async def on_audio(self, payload: bytes) -> None:
        stt, vad = self.stt_stream, self.vad_stream
        if stt is None or vad is None or self._to_stt is None or self._to_vad is None:
            self._early.add(payload)  # the caller spoke before the recogniser was connected
            return
        await stt.push_audio(payload if self._to_stt.passthrough else self._to_stt.convert(payload))
        pcm = pcm16_from_bytes(self._to_vad.convert(payload))
        self._vad_pos_ms += 1000 * len(pcm) / self._to_vad.dst.sample_rate
        for event in vad.process(pcm):
            if event.type is VADEventType.SPEECH_START:
                self._run_started_at = event.at_ms
                await stt.start_of_speech()
            else:
                now = _now()
                metrics = TurnMetrics(
                    index=self._turns, speech_end_at=now - max(0.0, self._vad_pos_ms - event.at_ms) / 1000
                )
                metrics.vad_end_at = now
                self._pending_turn = metrics
                await stt.end_of_speech()
        if (
            vad.speaking
            and vad.speech_ms >= self.s.agent.barge_in_threshold_ms
            and self._run_started_at
            >= self._reply_began_at  # speech that began while the agent had the floor
            and not self._interrupting
            and (self.s.player.speaking or self.busy)
        ):
            await self._interrupt("caller")

    async def on_dtmf(self, digit: str) -> None:
        self._dtmf += digit
        if self._dtmf_timer is not None:
            self._dtmf_timer.cancel()
        if digit == "#":
            self._dtmf_turn()
        else:
            self._dtmf_timer = asyncio.get_running_loop().call_later(DTMF_GAP_S, self._dtmf_turn)

    def _dtmf_turn(self) -> None:
        digits, self._dtmf, self._dtmf_timer = self._dtmf, "", None
        if digits and not self.s.ended:
            self.s.scope.spawn(self._new_turn(f"(keypad) {digits}", dtmf=digits), name="dtmf-turn")

    async def _on_transcript(self, event: Transcript) -> None:
        if event.final and event.text.strip():
            self._parts.append(event.text.strip())
        if not event.end_of_utterance:
            return
        text = " ".join(self._parts).strip()
        self._parts = []
        if text:
            await self._new_turn(text)

    async def _new_turn(self, text: str, *, dtmf: str | None = None) -> None:
        metrics = self._pending_turn or TurnMetrics(index=self._turns)
        self._pending_turn = None
        metrics.index = self._turns
        metrics.stt_final_at = _now()
        if self.busy or self.s.player.speaking:
            await self._interrupt("new-turn")
        if self._carry:
            text, self._carry = f"{self._carry} {text}", ""
        self._turns += 1
        self.s.record.add_transcript("caller", text)
        self.history.append(ChatMessage(Role.USER, text))
        self._start_reply(self._reply_text(text, dtmf), turn=metrics, caller_text=text)

    # -- replies -------------------------------------------------------------------------------

    def _start_reply(
        self, text: AsyncIterator[Any], *, turn: TurnMetrics | None, caller_text: str | None
    ) -> None:
        self._turn_metrics = turn
        self._reply_began_at = self._vad_pos_ms
        self._synth_idle.clear()  # speech is pending until the reply's first sentence is queued
        reply = SpokenReply(turn=self._turns)
        self._reply = reply
        self._reply_task = self.s.scope.spawn(
            self._speak(text, reply, turn, caller_text), name=f"reply-{reply.turn}"
        )

    async def _reply_text(self, text: str, dtmf: str | None) -> AsyncIterator[Any]:
        if self.on_message is not None:
            turn = CallerTurn(
                text=text,
                call_id=self.s.call.call_id,
                caller=self.s.call.caller,
                callee=self.s.call.callee,
                turn=self._turns - 1,
                history=self._plain_history()[:-1],
                dtmf=dtmf,
                call=self.s.call,
                end_call_hook=self._end_call_after_reply,
                transfer_hook=self._transfer_after_reply,
            )
            limit = self.s.options.stall_timeout_s
            async with contextlib.aclosing(
                bounded(_on_message_pieces(self.on_message, turn), limit, "on_message")
            ) as pieces:
                async for piece in pieces:
                    yield piece
            return
        assert self.llm is not None
        tools = [t.spec for t in self.s.tools.values()]
        for _ in range(MAX_TOOL_ROUNDS):
            calls: list[ToolCallRequest] = []
            spoken: list[str] = []
            stream = self.llm.stream(list(self.history), tools=tools)
            chunks = bounded(stream, self.s.options.stall_timeout_s, "the LLM")
            try:
                async for chunk in chunks:
                    if isinstance(chunk, TextDelta):
                        if chunk.text:
                            spoken.append(chunk.text)
                            yield chunk.text
                    elif isinstance(chunk, ToolCallRequest):
                        calls.append(chunk)
                    elif isinstance(chunk, LLMDone):
                        break
            finally:
                with contextlib.suppress(Exception):
                    await chunks.aclose()
                with contextlib.suppress(Exception):
                    await stream.aclose()  # type: ignore[attr-defined]
            if not calls:
                return
            yield _FLUSH  # speak what came before the tool call while it runs
            self._close_spoken_part("".join(spoken), calls)
            results = await self._run_tools(calls)
            if results is None:
                return
            if self.s.ended:
                return
        log.warning("call %s: stopped after %d tool rounds", self.s.call.call_id, MAX_TOOL_ROUNDS)

    def _end_call_after_reply(self, reason: str) -> None:
        self.s.scope.spawn(self.s.hang_up(reason), name="on-message-hangup")

    def _transfer_after_reply(self, destination: str) -> None:
        number = resolve_destination(destination, self.s.agent.transfer_destinations)
        if number is None:
            allowed = ", ".join(self.s.agent.transfer_destinations) or "none are configured"
            raise ToolError(f"{destination!r} is not an allowed transfer destination; allowed: {allowed}")
        self.s.scope.spawn(self.s.transfer(number, reason="on_message"), name="on-message-transfer")

    def _close_spoken_part(self, raw_text: str, calls: list[ToolCallRequest]) -> None:
        """Text spoken before a tool call goes into the history with the call; the reply restarts."""
        reply = self._reply
        said = reply.text if reply is not None else raw_text
        self.history.append(ChatMessage(Role.ASSISTANT, said, tool_calls=tuple(calls)))
        if reply is not None:
            if said:
                self.s.record.add_transcript("agent", said)
            reply.sentences.clear()

    async def _run_tools(self, calls: list[ToolCallRequest]) -> list[Any] | None:
        """Run the calls in the call's scope. A barge-in does not cancel a tool (it may have side
        effects): it keeps running, and the history gets a placeholder result so it stays valid."""
        if self._turn_metrics is not None:
            self._turn_metrics.tool_calls += len(calls)
        tasks = [
            self.s.scope.spawn(self.s.run_tool(c.name, c.arguments), name=f"tool-{c.name}") for c in calls
        ]
        try:
            results = await asyncio.shield(asyncio.gather(*tasks))
        except asyncio.CancelledError:
            for call in calls:
                self.history.append(
                    ChatMessage(
                        Role.TOOL,
                        "(interrupted by the caller before the result was read)",
                        tool_call_id=call.call_id,
                        name=call.name,
                    )
                )
            raise
        for call, result in zip(calls, results, strict=True):
            self.history.append(
                ChatMessage(Role.TOOL, result.output, tool_call_id=call.call_id, name=call.name)
            )
        return list(results)

    async def _speak(
        self, text: AsyncIterator[Any], reply: SpokenReply, turn: TurnMetrics | None, caller_text: str | None
    ) -> None:
        s = self.s
        chunker = SentenceChunker()
        self._first_audio_watched = False
        try:
            async for piece in text:
                if piece is _FLUSH:
                    sentences = [r for r in [chunker.flush()] if r]
                else:
                    if turn is not None and turn.first_text_at is None:
                        turn.first_text_at = _now()
                    sentences = chunker.push(piece)
                for sentence in sentences:
                    await self._say(sentence, reply, turn)
                if piece is _FLUSH:
                    # everything said so far is queued: a tool call (end_call) may wait for it to play
                    self._synth_idle.set()
            rest = chunker.flush()
            if rest:
                await self._say(rest, reply, turn)
        except asyncio.CancelledError:
            raise
        except CallEnded:
            return
        except PatterError as exc:
            log.error("call %s: reply failed: %s", s.call.call_id, exc)
            self._reply_failed(str(exc), fatal=isinstance(exc, ProviderError) and exc.fatal)
        except Exception as exc:
            log.exception("call %s: reply failed", s.call.call_id)
            self._reply_failed(f"{type(exc).__name__}: {exc}", fatal=False)
        else:
            self._failed_replies = 0
        finally:
            self._synth_idle.set()
        if turn is not None:
            s.record.add_turn(turn)
        text_spoken = reply.text
        if text_spoken:
            reply.history_index = len(self.history)
            self.history.append(ChatMessage(Role.ASSISTANT, text_spoken))
            s.record.add_transcript("agent", text_spoken)
        self._last_reply = reply

    def _reply_failed(self, message: str, *, fatal: bool) -> None:
        """Record a lost reply; the second in a row (or a fatal provider error) ends the call."""
        self._failed_replies += 1
        give_up = fatal or self._failed_replies >= MAX_FAILED_REPLIES
        self.s.record.add_event("error", source="pipeline", message=message, fatal=give_up)
        if give_up:
            self.s.fail(f"reply failed ({message})")

    async def _say(self, sentence: str, reply: SpokenReply, turn: TurnMetrics | None) -> None:
        s = self.s
        assert self.tts_session is not None
        if s.agent.guardrails:
            verdict = await check_all(s.agent.guardrails, sentence)
            if verdict.blocked:
                s.record.add_event("guardrail", guardrail=verdict.guardrail, blocked=sentence)
                sentence = verdict.text
        spoken = reply.add(sentence)
        fmt = self.tts_session.format
        self._synth_idle.clear()
        stream = self.tts_session.synthesize(sentence)
        chunks = bounded(stream, s.options.stall_timeout_s, "text-to-speech")
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                if turn is not None and turn.tts_first_byte_at is None:
                    turn.tts_first_byte_at = _now()
                spoken.audio_ms += fmt.duration_ms(len(chunk))
                if turn is not None and not self._first_audio_watched:
                    self._first_audio_watched = True
                    s.player.on_first_frame(spoken.segment_id, functools.partial(_stamp_first_audio, turn))
                s.player.play(spoken.segment_id, chunk, fmt)
        finally:
            self._synth_idle.set()
            with contextlib.suppress(Exception):
                await chunks.aclose()
            with contextlib.suppress(Exception):
                await stream.aclose()  # type: ignore[attr-defined]
        spoken.synthesised = True
        s.player.end_segment(spoken.segment_id)

    async def _interrupt(self, reason: str) -> None:
        """Stop the agent: cancel the reply in flight, clear playback, keep only the heard text."""
        s = self.s
        self._interrupting = True
        try:
            reply = self._reply if self.busy else self._last_reply
            in_flight = s.player.in_flight()
            played = {seg: s.tracker.played_ms(seg) for seg in in_flight}
            await self._cancel_reply()
            await s.player.clear()
            s.record.add_event("barge_in", source=reason, heard_ms=played)
            if reply is None or not (reply.segments & set(in_flight) or reply is self._reply):
                return
            heard = reply.heard_text(lambda seg: played.get(seg, 0.0), lambda seg: seg not in in_flight)
            self._rewrite_history(reply, heard)
            s.record.add_transcript("agent", heard, interrupted=True, full_text=reply.text)
        finally:
            self._interrupting = False

    def _rewrite_history(self, reply: SpokenReply, heard: str) -> None:
        index = reply.history_index
        if index is not None and index < len(self.history):
            # the reply had finished generating: replace what we assumed was heard
            if heard:
                self.history[index] = ChatMessage(Role.ASSISTANT, heard)
            else:
                del self.history[index]
                self._drop_agent_transcript(reply.text)
        elif heard:
            self.history.append(ChatMessage(Role.ASSISTANT, heard))
        if not heard and self.history and self.history[-1].role is Role.USER:
            self._carry = self.history.pop().content  # nothing was heard: merge with the next turn

    def _drop_agent_transcript(self, text: str) -> None:
        entries = self.s.record.transcript
        for i in range(len(entries) - 1, -1, -1):
            if entries[i].role == "agent" and entries[i].text == text:
                del entries[i]
                return

    async def _cancel_reply(self) -> None:
        task, self._reply_task = self._reply_task, None
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        self._synth_idle.set()

    def _plain_history(self) -> list[dict[str, str]]:
        out = []
        for message in self.history:
            if message.role is Role.USER:
                out.append({"role": "caller", "text": message.content})
            elif message.role is Role.ASSISTANT and message.content:
                out.append({"role": "agent", "text": message.content})
        return out


async def _one(text: str) -> AsyncIterator[str]:
    yield text


async def _on_message_pieces(on_message: OnMessage, turn: CallerTurn) -> AsyncIterator[str]:
    result: Any = on_message(turn)
    if inspect.isawaitable(result):
        result = await result
    if result is None:
        return
    if isinstance(result, str):
        yield result
        return
    if hasattr(result, "__aiter__"):
        async for piece in result:
            if piece:
                yield str(piece)
        return
    raise TypeError(
        f"on_message returned {type(result).__name__}: return a str, an async iterator of str, or None"
    )


def _stamp_first_audio(turn: TurnMetrics) -> None:
    if turn.first_audio_at is None:
        turn.first_audio_at = _now()


def _now() -> float:
    return asyncio.get_running_loop().time()
