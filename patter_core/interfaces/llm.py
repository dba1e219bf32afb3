"""Language models: a streamed chat with tool calls, cancellable by closing the stream.

Providers assemble the vendor's streamed tool-call fragments themselves and yield whole
:class:`ToolCallRequest` objects, so the session never sees a half-built call. Closing the async
iterator (``await stream.aclose()``, or leaving an ``async for``) must cancel the request in flight.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import attrs

__all__ = [
    "LLM",
    "ChatMessage",
    "LLMCapabilities",
    "LLMChunk",
    "LLMDone",
    "Role",
    "TextDelta",
    "ToolCallRequest",
    "ToolSpec",
]


@attrs.frozen(slots=True)
class ToolSpec:
    """What a model is told about a tool: its name, purpose and JSON-schema parameters."""

    name: str
    description: str
    parameters: Mapping[str, Any] = attrs.field(factory=lambda: {"type": "object", "properties": {}})


class Role(enum.StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


@attrs.frozen(slots=True)
class ToolCallRequest:
    """A model asks for a tool to run. ``arguments`` is the raw JSON text the model produced."""

    call_id: str
    name: str
    arguments: str = "{}"


@attrs.frozen(slots=True)
class ChatMessage:
    """One entry of the conversation history, provider-neutral."""

    role: Role = attrs.field(converter=Role)
    content: str = ""
    tool_calls: tuple[ToolCallRequest, ...] = ()
    """For assistant messages that requested tools."""
    tool_call_id: str | None = None
    """For tool results: which call this answers."""
    name: str | None = None
    """For tool results: the tool's name (some vendors need it)."""


@attrs.frozen(slots=True)
class TextDelta:
    text: str


@attrs.frozen(slots=True)
class LLMDone:
    finish_reason: str = "stop"
    usage: Mapping[str, int] = attrs.field(factory=dict)


LLMChunk = TextDelta | ToolCallRequest | LLMDone


@attrs.frozen(slots=True)
class LLMCapabilities:
    tools: bool = True
    parallel_tool_calls: bool = True


class LLM(abc.ABC):
    """A chat model. Instances hold configuration only; every call to :meth:`stream` is independent."""

    capabilities: LLMCapabilities = LLMCapabilities()

    @abc.abstractmethod
    def stream(
        self, messages: Sequence[ChatMessage], *, tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[LLMChunk]:
        """Stream the reply: :class:`TextDelta` pieces and whole :class:`ToolCallRequest` objects, then
        one :class:`LLMDone`. Raise :class:`patter_core.errors.ProviderError` on failure."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release shared resources (connection pools) when the application stops."""
