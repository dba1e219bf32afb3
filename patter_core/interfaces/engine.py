"""Speech-to-speech engines: caller audio in; agent audio, transcripts, tool calls and turn events out.

An :class:`Engine` holds configuration (model, voice, credentials) and is shared between calls;
:meth:`Engine.connect` opens one :class:`EngineSession` per call. The session loop

* forwards caller audio with :meth:`EngineSession.send_audio` (in :attr:`EngineSession.input_format`,
  converted once by the core when it differs from the carrier's);
* plays :class:`AgentAudio` events and places marks to learn what the caller really heard;
* on :class:`CallerSpeechStarted` while the agent speaks: clears the carrier's buffer and calls
  :meth:`EngineSession.truncate` with the heard position of the item (never past the audio delivered,
  never for an item that finished playing);
* runs :class:`ToolCallRequested` tools and answers with :meth:`EngineSession.send_tool_result`.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping, Sequence

import attrs

from patter_core.audio.format import PCM16_16K, AudioFormat
from patter_core.interfaces.carrier import CallInfo
from patter_core.interfaces.llm import ToolSpec

__all__ = [
    "AgentAudio",
    "AgentTranscript",
    "CallerSpeechStarted",
    "CallerSpeechStopped",
    "CallerTranscript",
    "Engine",
    "EngineCapabilities",
    "EngineConfig",
    "EngineError",
    "EngineEvent",
    "EngineInterrupted",
    "EngineSession",
    "ResponseDone",
    "ResponseStarted",
    "ToolCallRequested",
]


@attrs.frozen(slots=True)
class EngineCapabilities:
    input_formats: tuple[AudioFormat, ...] = (PCM16_16K,)
    output_formats: tuple[AudioFormat, ...] = (PCM16_16K,)
    server_vad: bool = True
    """The engine detects the caller's turns itself and emits :class:`CallerSpeechStarted`."""
    truncate: bool = True
    """:meth:`EngineSession.truncate` is meaningful (the engine keeps a transcript to cut)."""
    interruption_events: bool = False
    """The engine decides barge-in itself and emits :class:`EngineInterrupted`."""
    say: bool = True
    """:meth:`EngineSession.say` can speak a given text (first message, guardrail replacement)."""


@attrs.frozen
class EngineConfig:
    """Everything one call's engine session needs from the agent and the carrier."""

    instructions: str
    tools: Sequence[ToolSpec] = ()
    first_message: str | None = None
    input_format: AudioFormat = PCM16_16K
    """The carrier's wire format: request it when supported so audio passes through untouched."""
    output_format: AudioFormat = PCM16_16K
    language: str | None = None
    call: CallInfo | None = None
    variables: Mapping[str, str] = attrs.field(factory=dict)
    """Per-call values (caller number, ...) an engine may pass to its service as dynamic variables."""


# -- events ---------------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class AgentAudio:
    """Agent speech. ``item_id`` identifies the utterance for truncation; ``format`` overrides the
    session's :attr:`EngineSession.output_format` when the engine changed it mid-call."""

    data: bytes
    item_id: str | None = None
    format: AudioFormat | None = None


@attrs.frozen(slots=True)
class AgentTranscript:
    """Text of what the agent says: a delta, or the whole utterance when ``final``."""

    text: str
    item_id: str | None = None
    final: bool = False


@attrs.frozen(slots=True)
class CallerTranscript:
    text: str
    final: bool = True
    item_id: str | None = None


@attrs.frozen(slots=True)
class CallerSpeechStarted:
    item_id: str | None = None


@attrs.frozen(slots=True)
class CallerSpeechStopped:
    item_id: str | None = None


@attrs.frozen(slots=True)
class ToolCallRequested:
    call_id: str
    name: str
    arguments: str = "{}"
    """Raw JSON text from the model."""


@attrs.frozen(slots=True)
class ResponseStarted:
    response_id: str | None = None


@attrs.frozen(slots=True)
class ResponseDone:
    response_id: str | None = None
    status: str = "completed"
    """``completed``, ``cancelled``, ``failed`` or ``incomplete``."""


@attrs.frozen(slots=True)
class EngineInterrupted:
    """The engine itself stopped speaking because the caller barged in; stop playback at once."""


@attrs.frozen(slots=True)
class EngineError:
    """A service-side error. ``fatal`` ones end the engine session (the session may reconnect)."""

    message: str
    code: str | None = None
    fatal: bool = False


EngineEvent = (
    AgentAudio
    | AgentTranscript
    | CallerTranscript
    | CallerSpeechStarted
    | CallerSpeechStopped
    | ToolCallRequested
    | ResponseStarted
    | ResponseDone
    | EngineInterrupted
    | EngineError
)


class EngineSession(abc.ABC):
    """One call's connection to an engine."""

    input_format: AudioFormat
    output_format: AudioFormat

    @abc.abstractmethod
    async def send_audio(self, audio: bytes) -> None:
        """Caller audio in :attr:`input_format`."""

    @abc.abstractmethod
    def events(self) -> AsyncIterator[EngineEvent]:
        """Events until the session closes (then the iterator ends; a drop raises
        :class:`patter_core.errors.ProviderConnectionError`). Iterated by exactly one task."""

    @abc.abstractmethod
    async def send_tool_result(self, call_id: str, output: str, *, is_error: bool = False) -> None:
        """Return a tool's result (``is_error`` when the tool failed); the engine then continues speaking."""

    async def truncate(self, item_id: str, audio_end_ms: int) -> None:  # noqa: B027 - optional
        """Tell the engine the caller heard only ``audio_end_ms`` of ``item_id``."""

    async def cancel_response(self) -> None:  # noqa: B027 - optional
        """Stop the response being generated, if any."""

    async def say(self, text: str) -> None:
        """Speak exactly ``text`` (first message, guardrail replacement)."""
        raise NotImplementedError(f"{type(self).__name__} cannot speak a given text")

    async def send_text(self, text: str) -> None:
        """Add a caller-side text message to the conversation (keypad input, context) and let the
        engine respond to it."""
        raise NotImplementedError(f"{type(self).__name__} cannot take text input")

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Close the connection; idempotent."""


class Engine(abc.ABC):
    """A speech-to-speech provider."""

    capabilities: EngineCapabilities = EngineCapabilities()

    @abc.abstractmethod
    async def connect(self, config: EngineConfig) -> EngineSession:
        """Open one call's session. Raise :class:`patter_core.errors.ProviderConnectionError` on failure."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release shared resources when the application stops."""
