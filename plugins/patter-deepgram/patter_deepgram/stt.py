"""Deepgram live speech-to-text (``/v1/listen`` WebSocket, Nova models; PROTOCOLS.md section 5).

The stream declares exactly what it sends: ``encoding=mulaw&sample_rate=8000`` when the carrier's
G.711 mu-law passes straight through (Twilio, Telnyx PCMU), ``linear16`` at the PCM rate otherwise.
Deepgram decides the end of each utterance itself (``endpointing`` -> ``speech_final``, with
``UtteranceEnd`` as the fallback) and the session's VAD can hurry it with ``Finalize``; both become one
``Transcript(end_of_utterance=True)`` per utterance (see :mod:`patter_deepgram._utterance`).
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Mapping, Sequence

from patter_core.audio.format import (
    ALAW_8K,
    MULAW_8K,
    PCM16_8K,
    PCM16_16K,
    PCM16_24K,
    PCM16_44K,
    PCM16_48K,
    AudioFormat,
    Encoding,
)
from patter_core.errors import ConfigurationError
from patter_core.interfaces.stt import STT, STTCapabilities, STTConfig, STTStream
from patter_core.providers import require_api_key, resolve_base_url, ws_url
from patter_deepgram._stream import DeepgramStream

__all__ = ["DEFAULT_BASE_URL", "DeepgramSTT"]

log = logging.getLogger("patter.deepgram")
DEFAULT_BASE_URL = "https://api.deepgram.com"
_ENCODINGS = {Encoding.PCM16: "linear16", Encoding.MULAW: "mulaw", Encoding.ALAW: "alaw"}
MIN_UTTERANCE_END_MS = 1000


class DeepgramSTT(STT):
    """Deepgram streaming recognition for the pipeline.

    Args:
        api_key: falls back to ``DEEPGRAM_API_KEY``.
        base_url: API root (``https://api.deepgram.com``); the WebSocket URL is derived from it.
        model: ``nova-3`` (or ``nova-2-phonecall`` ...).
        language: ``en-US``, ``multi`` ...; the call's :attr:`STTConfig.language` wins when set.
        interim_results: partial transcripts while the caller speaks (needed by ``utterance_end_ms``).
        endpointing_ms: silence (ms) after which Deepgram finalizes with ``speech_final``; ``None``
            disables endpointing (``endpointing=false``), leaving ``UtteranceEnd`` and ``Finalize``.
        utterance_end_ms: word gap (ms) for ``UtteranceEnd``; values below 1000 bring no benefit
            (Deepgram's own guidance) and are raised to 1000 with a log line; ``None`` turns it off.
        vad_events: ``SpeechStarted`` events (usable for barge-in).
        smart_format: punctuation and number formatting.
        punctuate: sent only when given.
        keyterms: Nova-3 keyterm prompting (one ``keyterm`` parameter each).
        extra_params: any other query parameters, passed as given.
        keepalive_interval: seconds without audio before a ``KeepAlive`` (Deepgram closes after 10 s).
        reconnect_buffer_ms: caller audio kept while reconnecting after a drop (oldest dropped beyond).
        reconnect_reset_s: a connection healthy this long earns a new reconnect; a second drop sooner
            ends the stream with :class:`~patter_core.errors.ProviderConnectionError`.
        close_timeout: seconds :meth:`STTStream.aclose` waits for the last results after ``CloseStream``.
        connect_timeout: seconds allowed for the WebSocket handshake.
    """

    capabilities = STTCapabilities(
        input_formats=(PCM16_16K, MULAW_8K, ALAW_8K, PCM16_8K, PCM16_24K, PCM16_44K, PCM16_48K),
        streaming=True,
        interim_results=True,
        endpointing=True,
        speech_events=True,
    )

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        model: str = "nova-3",
        language: str | None = "en-US",
        interim_results: bool = True,
        endpointing_ms: int | None = 300,
        utterance_end_ms: int | None = 1000,
        vad_events: bool = True,
        smart_format: bool = True,
        punctuate: bool | None = None,
        keyterms: Sequence[str] = (),
        extra_params: Mapping[str, str] | None = None,
        keepalive_interval: float = 4.0,
        reconnect_buffer_ms: int = 2000,
        reconnect_reset_s: float = 30.0,
        close_timeout: float = 3.0,
        connect_timeout: float = 10.0,
    ) -> None:
        if not model:
            raise ConfigurationError("DeepgramSTT needs a model, e.g. model='nova-3'")
        if isinstance(keyterms, str):
            raise ConfigurationError("keyterms must be a list of strings, e.g. keyterms=['Acme']")
        if endpointing_ms is not None and endpointing_ms < 0:
            raise ConfigurationError("endpointing_ms must be >= 0 (or None to disable endpointing)")
        if not 0 < keepalive_interval < 10:
            raise ConfigurationError(
                "keepalive_interval must be between 0 and 10 s (Deepgram closes idle streams at 10 s)"
            )
        self._api_key = require_api_key(api_key, env="DEEPGRAM_API_KEY", provider="Deepgram")
        self.base_url = resolve_base_url(base_url, default=DEFAULT_BASE_URL)
        self.model, self.language = model, language
        self.interim_results = interim_results
        self.endpointing_ms = endpointing_ms
        if utterance_end_ms is not None and not interim_results:
            log.warning("utterance_end_ms needs interim_results=True; UtteranceEnd is turned off")
            utterance_end_ms = None
        if utterance_end_ms is not None and utterance_end_ms < MIN_UTTERANCE_END_MS:
            log.info(
                "utterance_end_ms=%d raised to %d: Deepgram gains nothing from shorter gaps",
                utterance_end_ms,
                MIN_UTTERANCE_END_MS,
            )
            utterance_end_ms = MIN_UTTERANCE_END_MS
        self.utterance_end_ms = utterance_end_ms
        self.vad_events, self.smart_format, self.punctuate = vad_events, smart_format, punctuate
        self.keyterms = list(keyterms)
        self.extra_params = dict(extra_params or {})
        self.keepalive_interval = keepalive_interval
        self.reconnect_buffer_ms = reconnect_buffer_ms
        self.reconnect_reset_s = reconnect_reset_s
        self.close_timeout = close_timeout
        self.connect_timeout = connect_timeout

    def __repr__(self) -> str:
        return f"DeepgramSTT(model={self.model!r}, language={self.language!r}, base_url={self.base_url!r})"

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self._api_key}"}

    def query(self, format: AudioFormat, language: str | None = None) -> list[tuple[str, str]]:
        """The ``/v1/listen`` query parameters for a stream of ``format``."""
        encoding = _ENCODINGS.get(format.encoding)
        if encoding is None or format not in self.capabilities.input_formats:
            names = ", ".join(str(f) for f in self.capabilities.input_formats)
            raise ConfigurationError(
                f"Deepgram stream format {format} is not supported here; use one of: {names}"
            )
        params: list[tuple[str, str]] = [("model", self.model)]
        if language or self.language:
            params.append(("language", str(language or self.language)))
        params += [
            ("encoding", encoding),
            ("sample_rate", str(format.sample_rate)),
            ("channels", str(format.channels)),
            ("interim_results", _bool(self.interim_results)),
            ("endpointing", "false" if self.endpointing_ms is None else str(self.endpointing_ms)),
        ]
        if self.utterance_end_ms is not None:
            params.append(("utterance_end_ms", str(self.utterance_end_ms)))
        params += [("vad_events", _bool(self.vad_events)), ("smart_format", _bool(self.smart_format))]
        if self.punctuate is not None:
            params.append(("punctuate", _bool(self.punctuate)))
        params += [("keyterm", term) for term in self.keyterms]
        params += list(self.extra_params.items())
        return params

    def listen_url(self, format: AudioFormat, language: str | None = None) -> str:
        return f"{ws_url(self.base_url, '/v1/listen')}?{urllib.parse.urlencode(self.query(format, language))}"

    async def open_stream(self, config: STTConfig) -> STTStream:
        stream = DeepgramStream(self, self.listen_url(config.format, config.language), config.format)
        await stream.start()
        return stream


def _bool(value: bool) -> str:
    return "true" if value else "false"
