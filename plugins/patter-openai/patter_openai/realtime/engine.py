"""``OpenAIRealtime``: the OpenAI Realtime API (GA protocol) as a Patter speech-to-speech engine."""

from __future__ import annotations

import logging
from typing import Literal
from urllib.parse import quote

from patter_core.errors import ConfigurationError
from patter_core.interfaces.engine import Engine, EngineCapabilities, EngineConfig
from patter_core.providers import ws_url
from patter_openai._common import OpenAICredentials
from patter_openai.realtime import events as ev
from patter_openai.realtime.connection import RealtimeConnection, negotiated_formats, open_realtime
from patter_openai.realtime.formats import SUPPORTED_FORMATS, request_format
from patter_openai.realtime.session import OpenAIRealtimeSession

__all__ = ["OpenAIRealtime"]

log = logging.getLogger("patter.openai.realtime")


class OpenAIRealtime(Engine):
    """Speech-to-speech over the OpenAI Realtime WebSocket (GA protocol only, no ``OpenAI-Beta``).

    The call's audio passes through untouched when the carrier speaks G.711 (``audio/pcmu`` /
    ``audio/pcma`` are requested); the formats the service actually accepted are read back from
    ``session.updated`` and exposed as the session's ``input_format`` / ``output_format`` (PCM16 24 kHz
    when G.711 was not honoured; the core then converts). ``first_message`` and :meth:`say` ask the model
    to speak a given text verbatim (see :data:`patter_openai.realtime.events.DEFAULT_SAY_TEMPLATE`).

    Args:
        model: Realtime model (``gpt-realtime``, ``gpt-realtime-mini`` ...).
        voice: output voice (``marin``, ``cedar``, ``alloy`` ...); fixed once the first audio is spoken.
        turn_detection: ``server_vad`` (default) or ``semantic_vad``.
        vad_threshold, prefix_padding_ms, silence_duration_ms, idle_timeout_ms: ``server_vad`` options.
        eagerness: ``semantic_vad`` option (``auto``, ``low``, ``medium``, ``high``).
        create_response, interrupt_response: whether the service answers each caller turn by itself and
            cancels its response when the caller speaks over it.
        transcription_model: model transcribing the caller (``whisper-1``, ``gpt-4o-transcribe`` ...), or
            ``None`` for no caller transcripts.
        noise_reduction: ``near_field`` (handsets, the default), ``far_field`` or ``None``.
        speed: speaking rate 0.25-1.5.
        max_output_tokens: per-response cap (1-4096 or ``"inf"``).
        api_key: falls back to ``OPENAI_API_KEY``.
        base_url: API root (``https://api.openai.com/v1``); the socket is ``ws(s)://<root>/realtime?model=``.
        connect_timeout: seconds allowed to open the socket and get ``session.updated``.
        reconnect: reconnect once when the socket drops mid-call.
        reconnect_timeout: seconds allowed for that reconnect (then ``events()`` raises).
        keepalive_interval, keepalive_timeout: WebSocket ping period and pong deadline (``None`` = off);
            a peer that stops answering is noticed within about their sum plus one second.
        say_template: how :meth:`say` words its request; ``{text}`` is replaced by the text.
    """

    capabilities = EngineCapabilities(
        input_formats=SUPPORTED_FORMATS,
        output_formats=SUPPORTED_FORMATS,
        server_vad=True,
        truncate=True,
        interruption_events=False,
        say=True,
    )

    def __init__(
        self,
        *,
        model: str = "gpt-realtime",
        voice: str = "marin",
        turn_detection: Literal["server_vad", "semantic_vad"] = "server_vad",
        vad_threshold: float | None = None,
        prefix_padding_ms: int | None = None,
        silence_duration_ms: int | None = None,
        idle_timeout_ms: int | None = None,
        eagerness: Literal["auto", "low", "medium", "high"] | None = None,
        create_response: bool = True,
        interrupt_response: bool = True,
        transcription_model: str | None = "whisper-1",
        noise_reduction: Literal["near_field", "far_field"] | None = "near_field",
        speed: float | None = None,
        max_output_tokens: int | Literal["inf"] | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        connect_timeout: float = 10.0,
        reconnect: bool = True,
        reconnect_timeout: float = 4.0,
        keepalive_interval: float | None = 5.0,
        keepalive_timeout: float | None = 5.0,
        say_template: str = ev.DEFAULT_SAY_TEMPLATE,
    ) -> None:
        _check_options(
            turn_detection=turn_detection,
            vad_threshold=vad_threshold,
            eagerness=eagerness,
            speed=speed,
            max_output_tokens=max_output_tokens,
            say_template=say_template,
            server_vad_only={
                "prefix_padding_ms": prefix_padding_ms,
                "silence_duration_ms": silence_duration_ms,
                "idle_timeout_ms": idle_timeout_ms,
            },
        )
        if connect_timeout <= 0 or reconnect_timeout <= 0:
            raise ConfigurationError("connect_timeout and reconnect_timeout must be positive (seconds)")
        self._credentials = OpenAICredentials(api_key, base_url)
        self.settings = ev.RealtimeSettings(
            model=model,
            voice=voice,
            turn_detection=turn_detection,
            vad_threshold=vad_threshold,
            prefix_padding_ms=prefix_padding_ms,
            silence_duration_ms=silence_duration_ms,
            idle_timeout_ms=idle_timeout_ms,
            eagerness=eagerness,
            create_response=create_response,
            interrupt_response=interrupt_response,
            transcription_model=transcription_model,
            noise_reduction=noise_reduction,
            speed=speed,
            max_output_tokens=max_output_tokens,
            say_template=say_template,
        )
        self.connect_timeout = connect_timeout
        self.reconnect = reconnect
        self.reconnect_timeout = reconnect_timeout
        self.keepalive_interval = keepalive_interval
        self.keepalive_timeout = keepalive_timeout

    @property
    def base_url(self) -> str:
        return self._credentials.base_url

    @property
    def url(self) -> str:
        """The WebSocket URL, derived from ``base_url`` (``https`` -> ``wss``, ``http`` -> ``ws``)."""
        return (
            ws_url(self._credentials.base_url, "/realtime") + "?model=" + quote(self.settings.model, safe="")
        )

    async def connect(self, config: EngineConfig) -> OpenAIRealtimeSession:
        requested_in = request_format(config.input_format)
        requested_out = request_format(config.output_format)
        update = {
            **ev.session_update(self.settings, config, requested_in, requested_out),
            "event_id": "patter_setup",
        }

        async def open_connection(timeout: float) -> RealtimeConnection:
            return await open_realtime(
                self.url,
                self._credentials.headers,
                update,
                timeout=timeout,
                keepalive_interval=self.keepalive_interval,
                keepalive_timeout=self.keepalive_timeout,
            )

        async def reopen() -> RealtimeConnection:
            return await open_connection(self.reconnect_timeout)

        connection = await open_connection(self.connect_timeout)
        input_format, output_format = negotiated_formats(connection.session, requested_in, requested_out)
        session = OpenAIRealtimeSession(
            connection,
            input_format=input_format,
            output_format=output_format,
            requested_formats=(requested_in, requested_out),
            reconnect=reopen if self.reconnect else None,
            say_template=self.settings.say_template,
        )
        try:
            await self._start(session, config)
        except BaseException:  # cancelled (the call ended) or failed: close what was opened
            await session.aclose()
            raise
        return session

    async def _start(self, session: OpenAIRealtimeSession, config: EngineConfig) -> None:
        log.info(
            "OpenAI Realtime session open (model %s, audio in %s, out %s)",
            self.settings.model,
            session.input_format,
            session.output_format,
        )
        session.start()
        if config.first_message:
            await session.say(config.first_message)

    def __repr__(self) -> str:
        return f"OpenAIRealtime(model={self.settings.model!r}, voice={self.settings.voice!r}, base_url={self.base_url!r})"


def _check_options(
    *,
    turn_detection: str,
    vad_threshold: float | None,
    eagerness: str | None,
    speed: float | None,
    max_output_tokens: int | str | None,
    say_template: str,
    server_vad_only: dict[str, int | None],
) -> None:
    if turn_detection not in ("server_vad", "semantic_vad"):
        raise ConfigurationError(
            f"turn_detection must be 'server_vad' or 'semantic_vad', got {turn_detection!r}"
        )
    if turn_detection == "semantic_vad":
        given = [k for k, v in {"vad_threshold": vad_threshold, **server_vad_only}.items() if v is not None]
        if given:
            raise ConfigurationError(f"{', '.join(given)} apply to turn_detection='server_vad' only")
    elif eagerness is not None:
        raise ConfigurationError("eagerness applies to turn_detection='semantic_vad' only")
    if eagerness is not None and eagerness not in ("auto", "low", "medium", "high"):
        raise ConfigurationError(f"eagerness must be auto, low, medium or high, got {eagerness!r}")
    if vad_threshold is not None and not 0.0 <= vad_threshold <= 1.0:
        raise ConfigurationError(f"vad_threshold must be between 0 and 1, got {vad_threshold}")
    if speed is not None and not 0.25 <= speed <= 1.5:
        raise ConfigurationError(f"speed must be between 0.25 and 1.5 for the Realtime API, got {speed}")
    if (
        max_output_tokens is not None
        and max_output_tokens != "inf"
        and not (isinstance(max_output_tokens, int) and 1 <= max_output_tokens <= 4096)
    ):
        raise ConfigurationError(f"max_output_tokens must be 1-4096 or 'inf', got {max_output_tokens!r}")
    if "{text}" not in say_template:
        raise ConfigurationError("say_template must contain '{text}' where the text to speak goes")
