"""Registers the ElevenLabs providers with Patter (entry point ``elevenlabs`` in group ``patter``)."""

from __future__ import annotations

from typing import Any

from patter_core.hookspecs import hookimpl

__all__ = ["register_engines", "register_tts"]


@hookimpl
def register_engines(register: Any) -> None:
    from patter_elevenlabs.convai import ElevenLabsConvAI

    register(
        ElevenLabsConvAI,
        name="elevenlabs-convai",
        description="ElevenLabs Conversational AI agent (speech-to-speech over WebSocket)",
        env=["ELEVENLABS_API_KEY"],
    )


@hookimpl
def register_tts(register: Any) -> None:
    from patter_elevenlabs.tts import ElevenLabsTTS

    register(
        ElevenLabsTTS,
        name="elevenlabs",
        description="ElevenLabs text-to-speech (stream-input WebSocket or HTTP streaming)",
        env=["ELEVENLABS_API_KEY"],
    )
