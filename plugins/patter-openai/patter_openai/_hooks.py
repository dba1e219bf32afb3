"""Registers this package's providers with Patter (entry point ``openai`` in group ``patter``).

Classes are registered, not instances: credentials arrive when the user constructs one, directly
(``OpenAIRealtime(api_key=...)``) or by name (``engine="openai-realtime"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from patter_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from patter_core.registry import RegisterCallback

__all__ = ["register_engines", "register_llms", "register_stt", "register_tts"]

_ENV = ["OPENAI_API_KEY"]


@hookimpl
def register_engines(register: RegisterCallback) -> None:
    from patter_openai.realtime import OpenAIRealtime

    register(
        OpenAIRealtime, name="openai-realtime", description="OpenAI Realtime speech-to-speech (GA)", env=_ENV
    )


@hookimpl
def register_llms(register: RegisterCallback) -> None:
    from patter_openai.llm import OpenAILLM

    register(OpenAILLM, name="openai", description="OpenAI Chat Completions (streaming, tools)", env=_ENV)


@hookimpl
def register_tts(register: RegisterCallback) -> None:
    from patter_openai.tts import OpenAITTS

    register(OpenAITTS, name="openai", description="OpenAI text-to-speech (PCM 24 kHz, streamed)", env=_ENV)


@hookimpl
def register_stt(register: RegisterCallback) -> None:
    from patter_openai.stt import WhisperSTT

    register(WhisperSTT, name="whisper", description="OpenAI Whisper / gpt-4o transcription", env=_ENV)
