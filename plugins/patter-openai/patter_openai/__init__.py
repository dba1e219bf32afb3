"""Patter plugin for OpenAI.

=====================  =========  ===================  ===============================================
class                  kind       registered name      what
=====================  =========  ===================  ===============================================
:class:`OpenAIRealtime`  engine   ``openai-realtime``  Realtime API (GA WebSocket), speech-to-speech
:class:`OpenAILLM`       llm      ``openai``           Chat Completions, streamed, with tool calls
:class:`OpenAITTS`       tts      ``openai``           ``/audio/speech``, PCM 24 kHz, streamed
:class:`WhisperSTT`      stt      ``whisper``          ``/audio/transcriptions`` of VAD utterances
=====================  =========  ===================  ===============================================

All take ``api_key=`` (else ``OPENAI_API_KEY``) and ``base_url=`` (``https://api.openai.com/v1``; the
Realtime WebSocket URL is derived from it). :mod:`patter_openai.testing` holds local fakes of the
service for tests.
"""

from patter_openai.llm import OpenAILLM
from patter_openai.realtime import OpenAIRealtime, OpenAIRealtimeSession
from patter_openai.stt import WhisperSTT
from patter_openai.tts import OpenAITTS

__all__ = ["OpenAILLM", "OpenAIRealtime", "OpenAIRealtimeSession", "OpenAITTS", "WhisperSTT"]
__version__ = "0.1.0"
