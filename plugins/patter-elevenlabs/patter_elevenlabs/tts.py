"""ElevenLabs text-to-speech, streamed in the carrier's own format (PROTOCOLS.md section 6.3).

``output_format`` is chosen per call from :attr:`ElevenLabsTTS.capabilities`: the session asks for the
carrier's wire format when it is listed (``ulaw_8000`` for Twilio / Telnyx PCMU, ``pcm_16000`` ...), so
ElevenLabs' audio goes to the caller without any transcoding.

Two transports:

``transport="websocket"`` (default) -- the ``stream-input`` WebSocket, **one connection per sentence,
pre-opened**. ``stream-input`` only reports the end of the audio (``isFinal``) after the end-of-input
message ``{"text": ""}``, which also closes the socket; so each sentence gets its own connection and the
session always keeps the next one open and initialised (and kept alive with ``{"text": " "}`` before
``inactivity_timeout``) while the current one speaks. A sentence therefore starts with no handshake
on its path, ends exactly at ``isFinal``, and barge-in simply closes that sentence's socket without
touching the next one. A dropped spare is replaced lazily; a sentence whose connection fails before
any audio arrived is retried once on a fresh connection. (The ``multi-stream-input`` endpoint would
multiplex sentences as contexts over one socket, but its message set is not pinned down in our
protocol reference, so it is not used.)

``transport="http"`` -- ``POST /v1/text-to-speech/{voice_id}/stream`` per sentence over a per-call
keep-alive HTTP client; the chunked body is yielded as it arrives (chunks may have odd lengths).
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal

from patter_core.audio.format import (
    ALAW_8K,
    MULAW_8K,
    PCM16_8K,
    PCM16_16K,
    PCM16_22K,
    PCM16_24K,
    PCM16_44K,
    PCM16_48K,
    AudioFormat,
)
from patter_core.errors import ConfigurationError
from patter_core.interfaces.tts import TTS, TTSCapabilities, TTSSession
from patter_core.providers import require_api_key, resolve_base_url, ws_url
from patter_elevenlabs._formats import format_name
from patter_elevenlabs._tts_http import HttpTTSSession
from patter_elevenlabs._tts_ws import WebSocketTTSSession

__all__ = ["DEFAULT_BASE_URL", "ElevenLabsTTS"]

DEFAULT_BASE_URL = "https://api.elevenlabs.io"
DEFAULT_VOICE_ID = "21m00Tcm4TlvDq8ikWAM"
"""ElevenLabs' premade "Rachel" voice, used when no ``voice_id`` is given."""
Transport = Literal["websocket", "http"]


class ElevenLabsTTS(TTS):
    """ElevenLabs voices for the pipeline's replies.

    Args:
        voice_id: the ElevenLabs voice; falls back to ``ELEVENLABS_VOICE_ID``, then to
            :data:`DEFAULT_VOICE_ID` (the "Rachel" premade voice available on every account).
        api_key: falls back to ``ELEVENLABS_API_KEY``.
        base_url: API root (``https://api.elevenlabs.io``); WebSocket URLs are derived from it.
        model_id: ``eleven_flash_v2_5`` (lowest latency) by default. ``eleven_v3*`` models are rejected
            by the WebSocket endpoint: use them with ``transport="http"``.
        voice_settings: ``{"stability", "similarity_boost", "style", "use_speaker_boost", "speed"}``.
        transport: ``"websocket"`` (default) or ``"http"`` (see the module documentation).
        optimize_streaming_latency: 0-4, trades quality for latency (sent only when given).
        language_code: ISO 639-1 code for models that accept one.
        inactivity_timeout: seconds (1-180) ElevenLabs keeps an idle WebSocket open.
        keepalive_interval: seconds between ``{"text": " "}`` on the idle pre-opened WebSocket; by default
            a third of ``inactivity_timeout``.
        chunk_length_schedule: ``generation_config.chunk_length_schedule`` (WebSocket only).
        enable_logging: ``False`` asks ElevenLabs for zero-retention mode (enterprise feature).
        connect_timeout: seconds allowed to open a connection.
    """

    capabilities = TTSCapabilities(
        output_formats=(PCM16_16K, MULAW_8K, PCM16_24K, PCM16_22K, PCM16_8K, ALAW_8K, PCM16_44K, PCM16_48K),
        streaming=True,
    )

    def __init__(
        self,
        *,
        voice_id: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        model_id: str = "eleven_flash_v2_5",
        voice_settings: Mapping[str, Any] | None = None,
        transport: Transport = "websocket",
        optimize_streaming_latency: int | None = None,
        language_code: str | None = None,
        inactivity_timeout: int = 60,
        keepalive_interval: float | None = None,
        chunk_length_schedule: Sequence[int] | None = None,
        enable_logging: bool | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        if voice_id is None:
            voice_id = os.environ.get("ELEVENLABS_VOICE_ID") or DEFAULT_VOICE_ID
        if not isinstance(voice_id, str) or not voice_id.strip():
            raise ConfigurationError(
                "ElevenLabsTTS needs voice_id=: a voice id from your ElevenLabs voice library "
                "(or set ELEVENLABS_VOICE_ID)"
            )
        if transport not in ("websocket", "http"):
            raise ConfigurationError(f"transport must be 'websocket' or 'http', got {transport!r}")
        if transport == "websocket" and model_id.startswith("eleven_v3"):
            raise ConfigurationError(
                f"model {model_id!r} is not available on ElevenLabs' WebSocket endpoint: "
                "pass transport='http' "
                "or a flash/turbo model such as 'eleven_flash_v2_5'"
            )
        if optimize_streaming_latency is not None and optimize_streaming_latency not in range(5):
            raise ConfigurationError("optimize_streaming_latency must be an integer from 0 to 4")
        if not 1 <= inactivity_timeout <= 180:
            raise ConfigurationError("inactivity_timeout must be between 1 and 180 seconds")
        self.voice_id = voice_id.strip()
        self._api_key = require_api_key(api_key, env="ELEVENLABS_API_KEY", provider="ElevenLabs")
        self.base_url = resolve_base_url(base_url, default=DEFAULT_BASE_URL)
        self.model_id = model_id
        self.voice_settings = dict(voice_settings) if voice_settings else None
        self.transport: Transport = transport
        self.optimize_streaming_latency = optimize_streaming_latency
        self.language_code = language_code
        self.inactivity_timeout = int(inactivity_timeout)
        self.keepalive_interval = (
            keepalive_interval if keepalive_interval is not None else max(0.5, self.inactivity_timeout / 3)
        )
        if self.keepalive_interval <= 0 or self.keepalive_interval >= self.inactivity_timeout:
            raise ConfigurationError(
                "keepalive_interval must be positive and shorter than inactivity_timeout"
            )
        self.chunk_length_schedule = list(chunk_length_schedule) if chunk_length_schedule else None
        self.enable_logging = enable_logging
        self.connect_timeout = connect_timeout

    def __repr__(self) -> str:
        return (
            f"ElevenLabsTTS(voice_id={self.voice_id!r}, model_id={self.model_id!r}, "
            f"transport={self.transport!r}, base_url={self.base_url!r})"
        )

    # -- sessions -----------------------------------------------------------------------------

    async def open_session(self, format: AudioFormat) -> TTSSession:
        self.check_format(format)
        if self.transport == "http":
            return HttpTTSSession(self, format)
        session = WebSocketTTSSession(self, format)
        session.prewarm()
        return session

    async def synthesize(self, text: str, format: AudioFormat) -> AsyncIterator[bytes]:
        """One-shot synthesis over HTTP (no per-call connection kept)."""
        self.check_format(format)
        session = HttpTTSSession(self, format)
        try:
            async for chunk in session.synthesize(text):
                yield chunk
        finally:
            await session.aclose()

    def check_format(self, format: AudioFormat) -> None:
        if format not in self.capabilities.output_formats:
            names = ", ".join(str(f) for f in self.capabilities.output_formats)
            raise ConfigurationError(f"ElevenLabs cannot produce {format}; pick one of: {names}")

    # -- wire details shared by the sessions ------------------------------------------------------

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"xi-api-key": self._api_key}

    def stream_input_url(self, format: AudioFormat) -> str:
        params: dict[str, str] = {
            "model_id": self.model_id,
            "output_format": format_name(format),
            "inactivity_timeout": str(self.inactivity_timeout),
        }
        params.update(self._common_params())
        if self.language_code:
            params["language_code"] = self.language_code
        path = f"/v1/text-to-speech/{urllib.parse.quote(self.voice_id, safe='')}/stream-input"
        return f"{ws_url(self.base_url, path)}?{urllib.parse.urlencode(params)}"

    def initial_message(self) -> dict[str, Any]:
        """The first WebSocket message: a single space plus the voice settings."""
        message: dict[str, Any] = {"text": " "}
        if self.voice_settings:
            message["voice_settings"] = self.voice_settings
        if self.chunk_length_schedule:
            message["generation_config"] = {"chunk_length_schedule": self.chunk_length_schedule}
        return message

    def http_request(self, text: str, format: AudioFormat) -> tuple[str, dict[str, str], dict[str, Any]]:
        """``(path, query, json body)`` of the HTTP streaming request for ``text``."""
        path = f"/v1/text-to-speech/{urllib.parse.quote(self.voice_id, safe='')}/stream"
        params = {"output_format": format_name(format), **self._common_params()}
        body: dict[str, Any] = {"text": text, "model_id": self.model_id}
        if self.voice_settings:
            body["voice_settings"] = self.voice_settings
        if self.language_code:
            body["language_code"] = self.language_code
        return path, params, body

    def _common_params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        if self.optimize_streaming_latency is not None:
            params["optimize_streaming_latency"] = str(self.optimize_streaming_latency)
        if self.enable_logging is not None:
            params["enable_logging"] = "true" if self.enable_logging else "false"
        return params
