"""``WhisperSTT``: OpenAI transcription (``/audio/transcriptions``) of whole, VAD-segmented utterances.

The core's :class:`BufferedSTT` collects each utterance between the session VAD's speech start and end
(never fixed windows, which split words); this class turns it into PCM16 mono 16 kHz -- decoded and
resampled *once*, with the high-quality offline resampler, since the whole utterance is at hand --
wraps it in a WAV header and uploads it as a multipart file.
"""

from __future__ import annotations

import io
import json
import logging
import wave

import httpx

from patter_core.audio import pcm16_to_bytes, resample_offline, to_pcm16
from patter_core.audio.format import ALAW_8K, MULAW_8K, PCM16_16K, AudioFormat
from patter_core.errors import ConfigurationError, ProviderConnectionError, ProviderError
from patter_core.interfaces.stt import STTCapabilities
from patter_core.providers import BufferedSTT, raise_for_provider_status
from patter_openai._common import PROVIDER, HttpClientHolder, OpenAICredentials

__all__ = ["TRANSCRIPTION_MODELS", "WhisperSTT", "parse_transcription", "wav_bytes"]

log = logging.getLogger("patter.openai.stt")

TRANSCRIPTION_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")
#: The service rejects audio shorter than 0.1 s; such blips are not speech anyway.
MIN_UTTERANCE_MS = 100
UPLOAD_RATE = 16_000


def wav_bytes(pcm16: bytes, sample_rate: int) -> bytes:
    """A mono 16-bit WAV file holding ``pcm16`` (little-endian samples)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm16)
    return buffer.getvalue()


class WhisperSTT(BufferedSTT):
    """Speech-to-text with ``whisper-1``, ``gpt-4o-transcribe`` or ``gpt-4o-mini-transcribe``.

    Args:
        model: one of :data:`TRANSCRIPTION_MODELS` (another name is passed through for compatible servers).
        language: ISO-639-1 hint (``"en"``; ``"en-US"`` is reduced to ``"en"``); the call's language wins.
        prompt: optional text to steer spelling (names, jargon).
        api_key: falls back to ``OPENAI_API_KEY``.
        base_url: API root, ``https://api.openai.com/v1`` by default.
    """

    capabilities = STTCapabilities(
        input_formats=(PCM16_16K, MULAW_8K, ALAW_8K), streaming=False, endpointing=False
    )

    def __init__(
        self,
        *,
        model: str = "whisper-1",
        language: str | None = None,
        prompt: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
    ) -> None:
        if not model:
            raise ConfigurationError(
                f"model must name a transcription model, e.g. {', '.join(TRANSCRIPTION_MODELS)}"
            )
        if model not in TRANSCRIPTION_MODELS:
            log.info(
                "transcription model %r is not one of %s; passing it through", model, TRANSCRIPTION_MODELS
            )
        self.model = model
        self.language = language
        self.prompt = prompt
        self._credentials = OpenAICredentials(api_key, base_url)
        self._http = HttpClientHolder(self._credentials, timeout=timeout, connect_timeout=connect_timeout)

    @property
    def base_url(self) -> str:
        return self._credentials.base_url

    @staticmethod
    def prepare(audio: bytes, format: AudioFormat) -> bytes:
        """``audio`` in ``format`` -> PCM16 mono 16 kHz bytes, resampled once at high quality if needed."""
        if format.encoding.sample_width == 2 and len(audio) % 2:
            audio = audio[:-1]
        pcm = to_pcm16(audio, format)
        if format.sample_rate != UPLOAD_RATE:
            pcm = resample_offline(pcm, format.sample_rate, UPLOAD_RATE)
        return pcm16_to_bytes(pcm)

    async def transcribe(self, audio: bytes, format: AudioFormat, *, language: str | None = None) -> str:
        if format.duration_ms(len(audio)) < MIN_UTTERANCE_MS:
            return ""
        pcm = self.prepare(audio, format)
        data = {"model": self.model, "response_format": "json"}
        lang = language or self.language
        if lang:
            data["language"] = lang.split("-", 1)[0].lower()
        if self.prompt:
            data["prompt"] = self.prompt
        files = {"file": ("utterance.wav", wav_bytes(pcm, UPLOAD_RATE), "audio/wav")}
        client = self._http.get()
        try:
            async with client.stream("POST", "/audio/transcriptions", data=data, files=files) as response:
                await raise_for_provider_status(response, provider=PROVIDER)
                body = await response.aread()
        except httpx.TimeoutException as exc:
            raise ProviderConnectionError(
                f"transcription timed out ({type(exc).__name__})", provider=PROVIDER, code="timeout"
            ) from None
        except httpx.TransportError as exc:
            raise ProviderConnectionError(
                f"transcription connection failed: {exc}", provider=PROVIDER, code="connection_error"
            ) from None
        return parse_transcription(body)

    async def aclose(self) -> None:
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"WhisperSTT(model={self.model!r}, base_url={self.base_url!r})"


def parse_transcription(body: bytes) -> str:
    """The text of a ``response_format=json`` transcription; :class:`ProviderError` for anything else."""
    try:
        text = json.loads(body)["text"]
    except (ValueError, KeyError, TypeError, IndexError, RecursionError):
        raise ProviderError(f"unexpected transcription response: {body[:200]!r}", provider=PROVIDER) from None
    return text.strip() if isinstance(text, str) else ""
