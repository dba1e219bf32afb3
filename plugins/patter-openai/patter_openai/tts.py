"""``OpenAITTS``: ``POST /audio/speech`` with ``response_format=pcm``, streamed (PROTOCOLS §6.4).

``pcm`` is raw PCM16 little-endian mono at 24 kHz without a header, so the body's bytes are forwarded as
they arrive: the first audio plays while the rest is still being synthesised. Closing the iterator
closes the HTTP response, which stops the synthesis.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx

from patter_core.audio.format import PCM16_24K, AudioFormat
from patter_core.errors import ConfigurationError, ProviderConnectionError
from patter_core.interfaces.tts import TTS, TTSCapabilities
from patter_core.providers import raise_for_provider_status
from patter_openai._common import PROVIDER, HttpClientHolder, OpenAICredentials

__all__ = ["VOICES", "OpenAITTS"]

log = logging.getLogger("patter.openai.tts")

#: The built-in voices (a custom voice is passed as its ``voice_...`` id).
VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "onyx",
    "nova",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)
_NO_INSTRUCTIONS = ("tts-1", "tts-1-hd")


class OpenAITTS(TTS):
    """Text-to-speech through the OpenAI speech endpoint.

    Args:
        model: ``gpt-4o-mini-tts`` (default), ``tts-1`` or ``tts-1-hd``.
        voice: one of :data:`VOICES` or a custom voice id (``voice_...``).
        instructions: how to speak (tone, accent, pace); not supported by ``tts-1``/``tts-1-hd``.
        speed: 0.25-4.0.
        api_key: falls back to ``OPENAI_API_KEY``.
        base_url: API root, ``https://api.openai.com/v1`` by default.
    """

    capabilities = TTSCapabilities(output_formats=(PCM16_24K,), streaming=True)

    def __init__(
        self,
        *,
        model: str = "gpt-4o-mini-tts",
        voice: str = "alloy",
        instructions: str | None = None,
        speed: float | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
    ) -> None:
        if voice not in VOICES and not voice.startswith("voice_"):
            raise ConfigurationError(
                f"unknown OpenAI voice {voice!r}; choose one of {', '.join(VOICES)} "
                "or pass a custom voice id (voice_...)"
            )
        if instructions and model in _NO_INSTRUCTIONS:
            raise ConfigurationError(f"{model} does not take instructions=; use gpt-4o-mini-tts or drop them")
        if speed is not None and not 0.25 <= speed <= 4.0:
            raise ConfigurationError(f"speed must be between 0.25 and 4.0, got {speed}")
        self.model = model
        self.voice = voice
        self.instructions = instructions
        self.speed = speed
        self._credentials = OpenAICredentials(api_key, base_url)
        self._http = HttpClientHolder(self._credentials, timeout=timeout, connect_timeout=connect_timeout)

    @property
    def base_url(self) -> str:
        return self._credentials.base_url

    def request_body(self, text: str) -> dict[str, object]:
        body: dict[str, object] = {
            "model": self.model,
            "voice": self.voice,
            "input": text,
            "response_format": "pcm",
        }
        if self.instructions:
            body["instructions"] = self.instructions
        if self.speed is not None:
            body["speed"] = self.speed
        return body

    async def synthesize(self, text: str, format: AudioFormat) -> AsyncIterator[bytes]:
        if format != PCM16_24K:
            raise ConfigurationError(f"OpenAITTS produces {PCM16_24K} only (asked for {format})")
        if not text.strip():
            return
        client = self._http.get()
        try:
            async with client.stream("POST", "/audio/speech", json=self.request_body(text)) as response:
                await raise_for_provider_status(response, provider=PROVIDER)
                async for chunk in response.aiter_bytes():
                    if chunk:
                        yield chunk
        except httpx.TimeoutException as exc:
            raise ProviderConnectionError(
                f"speech synthesis timed out ({type(exc).__name__})", provider=PROVIDER, code="timeout"
            ) from None
        except httpx.TransportError as exc:
            raise ProviderConnectionError(
                f"speech synthesis connection failed: {exc}", provider=PROVIDER, code="connection_error"
            ) from None

    async def aclose(self) -> None:
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"OpenAITTS(model={self.model!r}, voice={self.voice!r}, base_url={self.base_url!r})"
