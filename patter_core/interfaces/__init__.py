"""The small interfaces every provider implements, one module per kind.

=============  ==========================================================================
kind           interface (per-call object it opens)
=============  ==========================================================================
carrier        :class:`Carrier` (:class:`MediaChannel`, via :class:`MediaDialect`)
engine         :class:`Engine` (:class:`EngineSession`)
stt            :class:`STT` (:class:`STTStream`)
llm            :class:`LLM` (stateless :meth:`LLM.stream`)
tts            :class:`TTS` (:class:`TTSSession`)
vad            :class:`VAD` (:class:`VADStream`)
=============  ==========================================================================

Provider objects hold configuration and are shared between calls; everything with per-call state
lives in the object they open for each call. Capabilities are data (``*Capabilities`` classes).
"""

from patter_core.interfaces.carrier import (
    AudioReceived,
    CallHost,
    CallInfo,
    CallOutcome,
    CallStatusEvent,
    Carrier,
    CarrierCapabilities,
    DtmfReceived,
    MalformedFrame,
    MarkPlayed,
    MediaChannel,
    MediaDialect,
    MediaEvent,
    OutboundCallRequest,
    StreamStart,
    StreamStopped,
    WarmTransfer,
)
from patter_core.interfaces.engine import (
    AgentAudio,
    AgentTranscript,
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerTranscript,
    Engine,
    EngineCapabilities,
    EngineConfig,
    EngineError,
    EngineEvent,
    EngineInterrupted,
    EngineSession,
    ResponseDone,
    ResponseStarted,
    ToolCallRequested,
)
from patter_core.interfaces.llm import (
    LLM,
    ChatMessage,
    LLMCapabilities,
    LLMChunk,
    LLMDone,
    Role,
    TextDelta,
    ToolCallRequest,
    ToolSpec,
)
from patter_core.interfaces.stt import (
    STT,
    STTCapabilities,
    STTConfig,
    STTEvent,
    STTSpeechStarted,
    STTStream,
    Transcript,
)
from patter_core.interfaces.tts import TTS, TTSCapabilities, TTSSession
from patter_core.interfaces.vad import VAD, VADCapabilities, VADEvent, VADEventType, VADStream

__all__ = [
    "LLM",
    "STT",
    "TTS",
    "VAD",
    "AgentAudio",
    "AgentTranscript",
    "AudioReceived",
    "CallHost",
    "CallInfo",
    "CallOutcome",
    "CallStatusEvent",
    "CallerSpeechStarted",
    "CallerSpeechStopped",
    "CallerTranscript",
    "Carrier",
    "CarrierCapabilities",
    "ChatMessage",
    "DtmfReceived",
    "Engine",
    "EngineCapabilities",
    "EngineConfig",
    "EngineError",
    "EngineEvent",
    "EngineInterrupted",
    "EngineSession",
    "LLMCapabilities",
    "LLMChunk",
    "LLMDone",
    "MalformedFrame",
    "MarkPlayed",
    "MediaChannel",
    "MediaDialect",
    "MediaEvent",
    "OutboundCallRequest",
    "ResponseDone",
    "ResponseStarted",
    "Role",
    "STTCapabilities",
    "STTConfig",
    "STTEvent",
    "STTSpeechStarted",
    "STTStream",
    "StreamStart",
    "StreamStopped",
    "TTSCapabilities",
    "TTSSession",
    "TextDelta",
    "ToolCallRequest",
    "ToolCallRequested",
    "ToolSpec",
    "Transcript",
    "VADCapabilities",
    "VADEvent",
    "VADEventType",
    "VADStream",
    "WarmTransfer",
]
