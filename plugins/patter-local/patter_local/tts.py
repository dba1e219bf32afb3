"""Offline text-to-speech: Piper (``piper-tts``) with the bundled en_US "joe" voice.

Piper synthesises a sentence at a time (about 50-90 ms of CPU for a short phone sentence, roughly 30x
faster than real time on two cores); :meth:`LocalTTS.synthesize` runs each sentence in a worker thread
and yields its audio as soon as it is ready, so the first sentence plays while later ones are still
being made. The voice model is loaded once per process (lazily, or by :func:`patter_local.warm_up`)
and shared by every call: ONNX Runtime sessions are thread-safe and Piper serialises its espeak-ng
phonemiser itself.

Two presets make two distinguishable speakers from the one bundled voice, so a simulated caller never
sounds like the agent: ``voice="agent"`` is the voice as trained; ``voice="caller"`` is pitched up by a
quarter (resampled, with the speaking rate compensated) and speaks a little slower. Both synthesise
with Piper's noise scales at 0, which makes synthesis deterministic (the same text gives the same
samples), something the call simulator and tests rely on.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from patter_core.audio.format import PCM16_22K, AudioFormat
from patter_core.errors import ConfigurationError, MissingDependencyError, ProviderError
from patter_core.interfaces.tts import TTS, TTSCapabilities
from patter_local._models import PIPER_JOE

__all__ = ["VOICES", "LocalTTS", "VoicePreset", "load_piper"]

_VOICES_LOCK = threading.Lock()
_LOADED: dict[tuple[str, str], Any] = {}
_CHUNK_SAMPLES = 4410
"""Yield audio in 200 ms pieces (22 050 Hz)."""


@attrs.frozen
class VoicePreset:
    """How to speak with the bundled voice: rate, pitch and Piper's noise scales."""

    length_scale: float = 1.0
    """> 1 speaks slower."""
    pitch: float = 1.0
    """> 1 raises the pitch (and formants) by resampling; the rate is compensated."""
    noise_scale: float = 0.0
    noise_w_scale: float = 0.0
    volume: float = 0.8
    """Peak level after Piper's normalisation (headroom for resampling and mu-law)."""


VOICES: dict[str, VoicePreset] = {
    "agent": VoicePreset(),
    "caller": VoicePreset(length_scale=1.2, pitch=1.25),
}
"""The named presets: ``agent`` (the voice as trained) and ``caller`` (higher, a little slower)."""


def load_piper(model_path: str | Path | None = None, config_path: str | Path | None = None) -> Any:
    """The process-wide ``piper.PiperVoice`` for ``model_path`` (default: the bundled, verified joe
    voice), loaded on first call. Blocking: call it from a thread or at start-up."""
    if model_path is None:
        folder = PIPER_JOE.verify()
        model_path, config_path = folder / "en_US-joe-medium.onnx", folder / "en_US-joe-medium.onnx.json"
    config = str(config_path) if config_path is not None else f"{model_path}.json"
    key = (str(model_path), config)
    with _VOICES_LOCK:
        voice = _LOADED.get(key)
        if voice is None:
            try:
                from piper import PiperVoice
            except ImportError as exc:  # pragma: no cover - a dependency of this package
                raise MissingDependencyError("piper-tts", purpose="patter-local text-to-speech") from exc
            voice = PiperVoice.load(str(model_path), config_path=config)
            _LOADED[key] = voice
        return voice


class LocalTTS(TTS):
    """Piper text-to-speech, offline, 22 050 Hz PCM16 mono (the core converts to the wire format).

    Args:
        voice: ``"agent"`` (default) or ``"caller"``, or a :class:`VoicePreset` of your own.
        speed: speaking-rate multiplier on top of the preset (1.2 = 20 % faster).
        model_path, config_path: another Piper voice (``.onnx`` and its ``.onnx.json``) instead of the
            bundled, hash-verified joe voice (not verified: your responsibility). Its sample rate must
            be 22 050 Hz, the format this provider declares.
    """

    capabilities = TTSCapabilities(output_formats=(PCM16_22K,), streaming=True)

    def __init__(
        self,
        *,
        voice: str | VoicePreset = "agent",
        speed: float = 1.0,
        model_path: str | Path | None = None,
        config_path: str | Path | None = None,
    ) -> None:
        if isinstance(voice, str):
            if voice not in VOICES:
                raise ConfigurationError(
                    f"LocalTTS has no voice {voice!r}: choose one of {', '.join(sorted(VOICES))} "
                    "or pass a patter_local.VoicePreset"
                )
            preset = VOICES[voice]
        else:
            preset = voice
        if not 0.25 <= speed <= 4.0:
            raise ConfigurationError(f"LocalTTS speed must be between 0.25 and 4, got {speed}")
        if not 0.5 <= preset.pitch <= 2.0:
            raise ConfigurationError(f"LocalTTS pitch must be between 0.5 and 2, got {preset.pitch}")
        if model_path is not None and not Path(model_path).is_file():
            raise ConfigurationError(f"LocalTTS model_path={str(model_path)!r} does not exist")
        self.voice_name = voice if isinstance(voice, str) else "custom"
        self.preset = preset
        self.speed = speed
        self.model_path = model_path
        self.config_path = config_path

    @property
    def format(self) -> AudioFormat:
        return PCM16_22K

    def load(self) -> Any:
        """Load (or fetch) the shared voice model now; blocking."""
        voice = load_piper(self.model_path, self.config_path)
        if voice.config.sample_rate != PCM16_22K.sample_rate:
            raise ConfigurationError(
                f"LocalTTS needs a 22050 Hz Piper voice; {self.model_path} is {voice.config.sample_rate} Hz"
            )
        return voice

    async def synthesize(self, text: str, format: AudioFormat = PCM16_22K) -> AsyncIterator[bytes]:
        """PCM16 22 050 Hz audio of ``text``, sentence by sentence, in 200 ms chunks."""
        if format != PCM16_22K:
            raise ConfigurationError(f"LocalTTS produces {PCM16_22K}, not {format}")
        if not text.strip():
            return
        sentences = await asyncio.to_thread(self._start, text)
        while True:
            audio = await asyncio.to_thread(_next_or_none, sentences)
            if audio is None:
                return
            for offset in range(0, audio.size, _CHUNK_SAMPLES):
                yield audio[offset : offset + _CHUNK_SAMPLES].tobytes()

    def warm_up(self) -> None:
        """Load and verify the voice, and prime it with one short sentence (blocking)."""
        self.synthesize_sync("Hello.")

    def synthesize_sync(self, text: str) -> npt.NDArray[np.int16]:
        """The whole of ``text`` as one PCM16 22 050 Hz array (blocking; for tests and tools)."""
        if not text.strip():
            return np.zeros(0, dtype=np.int16)
        parts = list(self._start(text))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    # -- internals -----------------------------------------------------------------------------

    def _start(self, text: str) -> Iterator[npt.NDArray[np.int16]]:
        """Load the model and return a generator of per-sentence audio (runs in a worker thread)."""
        voice = self.load()
        from piper import SynthesisConfig

        preset = self.preset
        config = SynthesisConfig(
            length_scale=preset.length_scale * preset.pitch / self.speed,
            noise_scale=preset.noise_scale,
            noise_w_scale=preset.noise_w_scale,
            normalize_audio=True,
            volume=preset.volume,
        )
        return self._sentences(voice, text, config)

    def _sentences(self, voice: Any, text: str, config: Any) -> Iterator[npt.NDArray[np.int16]]:
        rate = voice.config.sample_rate
        try:
            for chunk in voice.synthesize(text, config):
                audio = np.asarray(chunk.audio_float_array, dtype=np.float32)
                if self.preset.pitch != 1.0:
                    audio = _pitch_shift(audio, rate, self.preset.pitch)
                yield (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
        except Exception as exc:
            raise ProviderError(f"synthesis failed: {exc}", provider="local") from exc


def _pitch_shift(audio: npt.NDArray[np.float32], rate: int, factor: float) -> npt.NDArray[np.float32]:
    """Play ``audio`` ``factor`` times faster (higher pitch, shorter); the caller pre-lengthens it."""
    import soxr

    return np.asarray(soxr.resample(audio, rate * factor, rate, quality="HQ"), dtype=np.float32)


def _next_or_none(iterator: Iterator[npt.NDArray[np.int16]]) -> npt.NDArray[np.int16] | None:
    return next(iterator, None)
