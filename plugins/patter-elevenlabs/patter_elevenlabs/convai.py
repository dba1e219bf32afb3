"""ElevenLabs Conversational AI ("Agents Platform") as a Patter speech-to-speech engine.

The agent itself (LLM, voice, tools, turn taking) lives on ElevenLabs; Patter carries the call's
audio to it and plays its answers back (PROTOCOLS.md section 4). Per call:

1. with an API key, fetch a signed URL (``GET /v1/convai/conversation/get-signed-url``, header
   ``xi-api-key``); without one, connect to the public agent URL ``/v1/convai/conversation?agent_id=``;
2. send ``conversation_initiation_client_data`` first: the prompt and first message of the Patter agent
   as ``conversation_config_override`` (each override must be enabled on the agent, or pass
   ``overrides=False``) and the call's ``dynamic_variables``;
3. read the audio formats from ``conversation_initiation_metadata``; the agent's formats are agent
   settings, so configure it with ``ulaw_8000`` both ways for Twilio/Telnyx PCMU pass-through.

What this engine cannot do, by the nature of ConvAI: speak an arbitrary text (``say``; the first
message is sent as an override instead), truncate the agent's memory at the heard position (ElevenLabs
detects barge-in itself and sends ``interruption``), or register tools at run time (define client tools
named like Patter's tools, e.g. ``transfer_call`` and ``end_call``, on the agent; their calls arrive as
:class:`~patter_core.interfaces.ToolCallRequested`). A dropped conversation is not resumed: ElevenLabs
has no way to rejoin one, so the drop surfaces as :class:`~patter_core.errors.ProviderConnectionError`.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from typing import Any

import httpx

from patter_core.errors import ConfigurationError, ProviderConnectionError, ProviderError
from patter_core.interfaces.engine import Engine, EngineCapabilities, EngineConfig, EngineSession
from patter_core.providers import new_http_client, raise_for_provider_status, resolve_base_url, ws_url
from patter_elevenlabs._convai_session import ConvAISession
from patter_elevenlabs._formats import FORMATS
from patter_elevenlabs._ws import PROVIDER, open_websocket

__all__ = ["DEFAULT_BASE_URL", "ElevenLabsConvAI"]

DEFAULT_BASE_URL = "https://api.elevenlabs.io"
_ENV = "ELEVENLABS_API_KEY"
_CONVERSATION_PATH = "/v1/convai/conversation"
_SIGNED_URL_PATH = "/v1/convai/conversation/get-signed-url"
_ALL_FORMATS = tuple(
    FORMATS[name]
    for name in ("pcm_16000", "ulaw_8000", "pcm_8000", "pcm_22050", "pcm_24000", "pcm_44100", "pcm_48000")
)


class ElevenLabsConvAI(Engine):
    """An ElevenLabs agent as the call's engine.

    Args:
        agent_id: the ElevenLabs agent to talk to.
        api_key: needed for private agents; falls back to ``ELEVENLABS_API_KEY``. Without any key the
            agent must be public; pass ``api_key=""`` to force the public URL even when the variable is set.
        base_url: API root (``https://api.elevenlabs.io``; regional hosts such as
            ``https://api.eu.residency.elevenlabs.io`` or a local fake work too). The WebSocket URL is
            derived from it, also for signed URLs (their path and signature are kept).
        use_signed_url: with a key, fetch a signed URL (default) rather than sending the key on the
            WebSocket upgrade.
        overrides: send the Patter agent's prompt, first message and language as
            ``conversation_config_override``. The agent must allow each overridden field, else
            ElevenLabs closes the session; pass ``False`` to use the agent's own settings.
        dynamic_variables: values for the agent's ``{{variables}}``; the call's own
            :attr:`EngineConfig.variables` (caller number, ...) are merged over them.
        user_id: optional end-user id recorded with the conversation.
        extra_initiation: more top-level keys for ``conversation_initiation_client_data``
            (``custom_llm_extra_body``, ``branch_id``, ``environment`` ...).
        connect_timeout: seconds allowed for the signed URL, the handshake and the initiation metadata.
    """

    capabilities = EngineCapabilities(
        input_formats=_ALL_FORMATS,
        output_formats=_ALL_FORMATS,
        server_vad=True,
        truncate=False,
        interruption_events=True,
        say=False,
    )

    def __init__(
        self,
        *,
        agent_id: str,
        api_key: str | None = None,
        base_url: str | None = None,
        use_signed_url: bool = True,
        overrides: bool = True,
        dynamic_variables: Mapping[str, str | int | float | bool] | None = None,
        user_id: str | None = None,
        extra_initiation: Mapping[str, Any] | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        if not isinstance(agent_id, str) or not agent_id.strip():
            raise ConfigurationError(
                "ElevenLabsConvAI needs agent_id=: the id of your agent in the ElevenLabs dashboard"
            )
        key = api_key if api_key is not None else os.environ.get(_ENV)
        self.agent_id = agent_id.strip()
        self._api_key = key.strip() if key and key.strip() else None
        self.base_url = resolve_base_url(base_url, default=DEFAULT_BASE_URL)
        self.use_signed_url = use_signed_url
        self.overrides = overrides
        self.dynamic_variables = dict(dynamic_variables or {})
        self.user_id = user_id
        self.extra_initiation = dict(extra_initiation or {})
        if "type" in self.extra_initiation:
            raise ConfigurationError("extra_initiation must not set 'type'")
        self.connect_timeout = connect_timeout

    @property
    def public(self) -> bool:
        """``True`` when no API key is configured (the agent must be public)."""
        return self._api_key is None

    def __repr__(self) -> str:
        return (
            f"ElevenLabsConvAI(agent_id={self.agent_id!r}, base_url={self.base_url!r}, public={self.public})"
        )

    # -- connecting ---------------------------------------------------------------------------

    async def connect(self, config: EngineConfig) -> EngineSession:
        url, headers = await self._conversation_url()
        ws = await open_websocket(url, headers=headers, timeout=self.connect_timeout)
        session = ConvAISession(ws, agent_id=self.agent_id)
        try:
            await session.start(self.initiation_message(config), timeout=self.connect_timeout)
        except BaseException:
            await session.aclose()
            raise
        session.warn_on_format_mismatch(config.input_format, config.output_format)
        return session

    async def _conversation_url(self) -> tuple[str, dict[str, str]]:
        query = urllib.parse.urlencode({"agent_id": self.agent_id})
        direct = f"{ws_url(self.base_url, _CONVERSATION_PATH)}?{query}"
        if self._api_key is None:
            return direct, {}
        if not self.use_signed_url:
            return direct, {"xi-api-key": self._api_key}
        return await self._signed_url(), {}

    async def _signed_url(self) -> str:
        assert self._api_key is not None
        async with new_http_client(
            self.base_url, headers={"xi-api-key": self._api_key}, timeout=self.connect_timeout
        ) as client:
            try:
                response = await client.get(_SIGNED_URL_PATH, params={"agent_id": self.agent_id})
            except httpx.HTTPError as exc:
                raise ProviderConnectionError(
                    f"could not fetch a signed conversation URL: {type(exc).__name__}: {exc}",
                    provider=PROVIDER,
                ) from exc
            await raise_for_provider_status(response, provider=PROVIDER)
            try:
                signed = response.json()["signed_url"]
            except (ValueError, KeyError, TypeError) as exc:
                raise ProviderError(
                    f"unexpected get-signed-url response: {response.text[:200]!r}", provider=PROVIDER
                ) from exc
        if not isinstance(signed, str):
            raise ProviderError("get-signed-url returned no signed_url string", provider=PROVIDER)
        return self._rebase(signed)

    def _rebase(self, signed: str) -> str:
        """The signed URL's path and signature on the host ``base_url`` names (a proxy, a fake)."""
        parts = urllib.parse.urlsplit(signed)
        root = urllib.parse.urlsplit(ws_url(self.base_url))
        base_path = root.path.rstrip("/")
        path = parts.path if parts.path.startswith(base_path + "/") else base_path + parts.path
        return urllib.parse.urlunsplit((root.scheme, root.netloc, path, parts.query, ""))

    # -- the first client message ----------------------------------------------------------------

    def initiation_message(self, config: EngineConfig) -> dict[str, Any]:
        """``conversation_initiation_client_data`` for one call (PROTOCOLS.md 4.2)."""
        message: dict[str, Any] = {"type": "conversation_initiation_client_data"}
        if self.overrides:
            agent: dict[str, Any] = {}
            if config.instructions.strip():
                agent["prompt"] = {"prompt": config.instructions}
            if config.first_message:
                agent["first_message"] = config.first_message
            if config.language:
                agent["language"] = config.language
            if agent:
                message["conversation_config_override"] = {"agent": agent}
        variables: dict[str, Any] = {**self.dynamic_variables, **dict(config.variables)}
        if variables:
            message["dynamic_variables"] = variables
        if self.user_id:
            message["user_id"] = self.user_id
        message.update(self.extra_initiation)
        return message
