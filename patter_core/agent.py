"""The agent a developer writes: a prompt, providers, tools, guardrails, and how it takes turns.

An :class:`Agent` runs in one of two modes:

* **engine mode** (``engine=``): a speech-to-speech model hears the caller and speaks back;
* **pipeline mode** (``stt=`` + ``llm=`` or ``on_message`` + ``tts=``): speech-to-text, a language
  model (or the developer's own ``on_message`` callback) and text-to-speech, streamed into each other.

Every provider argument takes an instance (``stt=DeepgramSTT(...)``) or a registered name
(``stt="deepgram"``); names are resolved through the plugin registry by :func:`build_agent`.
Everything is validated at construction with errors that say how to fix them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from patter_core.errors import ConfigurationError
from patter_core.guardrails import Guardrail
from patter_core.interfaces.engine import Engine
from patter_core.interfaces.llm import LLM
from patter_core.interfaces.stt import STT
from patter_core.interfaces.tts import TTS
from patter_core.interfaces.vad import VAD
from patter_core.tools import Tool, as_tool

if TYPE_CHECKING:
    from patter_core.registry import Registry
    from patter_core.session.turns import CallerTurn

__all__ = ["SYSTEM_TOOL_NAMES", "Agent", "OnMessage", "build_agent"]

OnMessageResult = str | AsyncIterator[str] | None
OnMessage = Callable[["CallerTurn"], Awaitable[OnMessageResult] | AsyncIterator[str]]

SYSTEM_TOOL_NAMES = ("transfer_call", "end_call")
_DESTINATION_RE = re.compile(r"^(\+[1-9]\d{6,14}|sips?:[^\s@]+@[^\s]+|client:\w+)$")
_KIND_OF = {"engine": Engine, "stt": STT, "llm": LLM, "tts": TTS, "vad": VAD}


def _tuple_of_tools(value: Sequence[Tool | Callable[..., Any]] | None) -> tuple[Tool, ...]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ConfigurationError("tools= must be a list of @tool functions or Tool objects")
    return tuple(as_tool(v) for v in value)


def _destinations(value: Mapping[str, str] | Sequence[str] | None) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):
        raise ConfigurationError(
            "transfer_destinations= must be a list of numbers or a {name: number} mapping"
        )
    pairs = value.items() if isinstance(value, Mapping) else [(v, v) for v in value]
    out: dict[str, str] = {}
    for name, raw in pairs:
        number = str(raw).strip()
        if not _DESTINATION_RE.match(number):
            raise ConfigurationError(
                f"transfer destination {number!r} is not an E.164 number (+15551234567) or a sip:/client: address"
            )
        out[str(name).strip()] = number
    return out


@attrs.define(kw_only=True)
class Agent:
    """What the caller talks to. Build it with ``phone.agent(...)`` (names resolved) or directly."""

    system_prompt: str = ""
    engine: Engine | None = None
    stt: STT | None = None
    llm: LLM | None = None
    tts: TTS | None = None
    vad: VAD | None = None
    tools: tuple[Tool, ...] = attrs.field(factory=tuple, converter=_tuple_of_tools)
    guardrails: tuple[Guardrail, ...] = attrs.field(factory=tuple, converter=tuple)
    first_message: str | None = None
    barge_in_threshold_ms: int = 300
    transfer_destinations: dict[str, str] = attrs.field(factory=dict, converter=_destinations)
    """Where ``transfer_call`` may dial: ``{"sales": "+15551234567"}`` or a list of numbers. Nothing else."""
    language: str | None = None
    on_message: OnMessage | None = None
    voicemail_message: str | None = None
    """Spoken when an outbound call reaches a machine (then the call hangs up)."""
    variables: dict[str, str] = attrs.field(factory=dict)
    """Values made available to engines as dynamic variables and to tools via the call context."""
    end_of_turn_silence_ms: int = 500
    """Pipeline mode: silence after speech that ends the caller's turn (when the VAD decides)."""
    tool_timeout_s: float | None = None
    """Overrides every tool's own timeout when set."""
    max_call_duration_s: float = 3600.0
    """Hard limit per call: the call is ended politely when it is reached."""

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.system_prompt, str):
            raise ConfigurationError("system_prompt= must be a string")
        for kind, cls in _KIND_OF.items():
            value = getattr(self, kind)
            if value is not None and not isinstance(value, cls):
                raise ConfigurationError(
                    f"{kind}= must be a {cls.__name__} instance or a registered {kind} name, got {type(value).__name__}"
                )
        pipeline = [k for k in ("stt", "llm", "tts") if getattr(self, k) is not None]
        if self.engine is not None and pipeline:
            raise ConfigurationError(
                f"engine= runs speech-to-speech on its own, so it cannot be combined with {'=, '.join(pipeline)}=: "
                "pass engine= alone, or stt=, llm= (or on_message) and tts= for a pipeline"
            )
        if self.llm is not None and self.on_message is not None:
            raise ConfigurationError(
                "llm= and on_message are mutually exclusive: on_message replaces the LLM"
            )
        if self.engine is not None and self.on_message is not None:
            raise ConfigurationError("on_message needs pipeline mode (stt= and tts=), not engine=")
        if not isinstance(self.barge_in_threshold_ms, int) or not 0 <= self.barge_in_threshold_ms <= 5000:
            raise ConfigurationError(
                "barge_in_threshold_ms must be an int from 0 to 5000 (ms of caller speech that interrupts the agent)"
            )
        if not 100 <= self.end_of_turn_silence_ms <= 5000:
            raise ConfigurationError("end_of_turn_silence_ms must be between 100 and 5000")
        names = [t.name for t in self.tools]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ConfigurationError(
                f"two tools share the name(s) {sorted(duplicates)}: tool names must be unique"
            )
        reserved = set(names) & set(SYSTEM_TOOL_NAMES)
        if reserved:
            raise ConfigurationError(
                f"{sorted(reserved)} are system tools Patter provides itself; rename your tool"
            )
        for rail in self.guardrails:
            if not isinstance(rail, Guardrail):
                raise ConfigurationError("guardrails= must contain guardrail(...) objects")
        if self.first_message is not None and not isinstance(self.first_message, str):
            raise ConfigurationError("first_message= must be a string")

    @property
    def mode(self) -> str:
        """``engine`` or ``pipeline``."""
        return "engine" if self.engine is not None else "pipeline"

    def check_complete(self, *, on_message: OnMessage | None = None) -> None:
        """Raise unless the agent can take a call (with ``on_message`` given at serve time)."""
        if self.engine is not None:
            if on_message is not None:
                raise ConfigurationError("on_message needs pipeline mode (stt= and tts=), not engine=")
            return
        if on_message is not None and self.llm is not None:
            raise ConfigurationError(
                "on_message and llm= are mutually exclusive: drop llm= from phone.agent(...) or do not pass on_message"
            )
        missing = [k for k in ("stt", "tts") if getattr(self, k) is None]
        if self.llm is None and self.on_message is None and on_message is None:
            missing.append("llm (or on_message)")
        if missing:
            raise ConfigurationError(
                f"pipeline mode needs {', '.join(missing)}: pass them to phone.agent(...) "
                "(instances or names such as stt='local'), or pass engine= for speech-to-speech"
            )


def build_agent(registry: Registry, **options: Any) -> Agent:
    """Resolve provider names through ``registry`` and fill defaults, then build the :class:`Agent`.

    With no provider named at all, the highest ``default_priority`` engine any plugin registered is
    used; failing that, a pipeline of the highest-priority stt / llm / tts.
    """
    for kind in _KIND_OF:
        value = options.get(kind)
        if isinstance(value, str):
            options[kind] = registry.create(kind, value)
    if options.get("vad") is None and options.get("engine") is None:
        entry = registry.default("vad")
        if entry is not None:
            # VAD providers take ``end_ms`` (silence that ends a turn) by convention
            silence = options.get("end_of_turn_silence_ms")
            options["vad"] = entry.create(**({"end_ms": silence} if silence is not None else {}))
    provided = [k for k in ("engine", "stt", "llm", "tts") if options.get(k) is not None]
    if not provided:
        _fill_defaults(registry, options)
    return Agent(**options)


def _fill_defaults(registry: Registry, options: dict[str, Any]) -> None:
    engine = registry.default("engine")
    if engine is not None and options.get("on_message") is None:
        options["engine"] = engine.create()
        return
    wanted = ("stt", "tts") if options.get("on_message") is not None else ("stt", "llm", "tts")
    for kind in wanted:
        entry = registry.default(kind)
        if entry is None:
            raise ConfigurationError(
                f"no provider was named and no installed plugin offers a default {kind}: pass engine= or "
                "stt=/llm=/tts= (for an offline start: pip install patter-local)"
            )
        options[kind] = entry.create()
