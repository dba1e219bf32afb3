"""Fake ElevenLabs servers for tests, benchmarks and offline demos (no network, no key).

* :class:`FakeConvAIServer` -- Conversational AI: signed URLs, the conversation WebSocket, and a script
  of agent behaviour (:mod:`patter_elevenlabs.testing.convai_script`);
* :class:`FakeElevenLabsTTSServer` -- text-to-speech: the ``stream-input`` WebSocket and HTTP streaming.

Both listen on ``127.0.0.1`` on a free port; point a provider at one with ``base_url=fake.base_url``.
They record what the client sent and have knobs to inject failures (see each class).
"""

from patter_elevenlabs.testing import convai_script
from patter_elevenlabs.testing._audio import encode_pcm16, tone
from patter_elevenlabs.testing.convai import ConvAIConnection, FakeConvAIServer
from patter_elevenlabs.testing.convai_script import (
    AgentResponse,
    Audio,
    Close,
    Correction,
    Drop,
    Interrupt,
    Ping,
    Send,
    Sleep,
    Speak,
    Step,
    ToolCall,
    UserTranscript,
    WaitForUserAudio,
)
from patter_elevenlabs.testing.tts import FakeElevenLabsTTSServer, TTSConnection, TTSRequest

__all__ = [
    "AgentResponse",
    "Audio",
    "Close",
    "ConvAIConnection",
    "Correction",
    "Drop",
    "FakeConvAIServer",
    "FakeElevenLabsTTSServer",
    "Interrupt",
    "Ping",
    "Send",
    "Sleep",
    "Speak",
    "Step",
    "TTSConnection",
    "TTSRequest",
    "ToolCall",
    "UserTranscript",
    "WaitForUserAudio",
    "convai_script",
    "encode_pcm16",
    "tone",
]
