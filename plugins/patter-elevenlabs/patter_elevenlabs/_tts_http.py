"""One call's HTTP streaming synthesis: ``POST /v1/text-to-speech/{voice_id}/stream`` per sentence.

The per-call ``httpx.AsyncClient`` keeps its connection alive between sentences. The chunked response
body is raw audio in ``output_format`` and is yielded chunk by chunk as it arrives (odd lengths
included: the session carries a byte for PCM). Closing the iterator closes the response, which stops
ElevenLabs generating. A request that fails before any audio arrived is retried once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx

from patter_core.audio.format import AudioFormat
from patter_core.errors import ProviderConnectionError, ProviderError
from patter_core.interfaces.tts import TTSSession
from patter_core.providers import new_http_client, raise_for_provider_status
from patter_elevenlabs._ws import PROVIDER

if TYPE_CHECKING:
    from patter_elevenlabs.tts import ElevenLabsTTS

__all__ = ["HttpTTSSession"]

log = logging.getLogger("patter.elevenlabs.tts")


class HttpTTSSession(TTSSession):
    """The per-call object :meth:`ElevenLabsTTS.open_session` returns for ``transport="http"``."""

    def __init__(self, tts: ElevenLabsTTS, format: AudioFormat) -> None:
        self.format = format
        self._tts = tts
        self._client: httpx.AsyncClient | None = None
        self._closed = False

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = new_http_client(
                self._tts.base_url, headers=self._tts.auth_headers, connect_timeout=self._tts.connect_timeout
            )
        return self._client

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        text = text.strip()
        if not text:
            return
        if self._closed:
            raise ProviderError("the ElevenLabs TTS session is closed", provider=PROVIDER)
        path, params, body = self._tts.http_request(text, self.format)
        yielded = False
        for attempt in (1, 2):
            try:
                async with self._http().stream(
                    "POST", path, params=params, json=body, headers={"Accept": "audio/*"}
                ) as response:
                    await raise_for_provider_status(response, provider=PROVIDER)
                    async for chunk in response.aiter_bytes():
                        if chunk:
                            yielded = True
                            yield chunk
                return
            except httpx.HTTPError as exc:
                if yielded or attempt == 2:
                    raise ProviderConnectionError(
                        f"text-to-speech stream failed: {type(exc).__name__}: {exc}", provider=PROVIDER
                    ) from exc
                log.warning("ElevenLabs TTS request failed before any audio (%s); retrying once", exc)

    async def aclose(self) -> None:
        self._closed = True
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
