"""``OpenAILLM``: Chat Completions streamed over SSE, with tool calls (PROTOCOLS §6.1).

Text deltas are yielded as they arrive; tool-call fragments are assembled per ``tool_calls[].index``
(``id`` and ``name`` come in the first fragment, ``arguments`` are concatenated) and yielded as whole
:class:`ToolCallRequest` objects when the choice finishes. With ``stream_options.include_usage`` the last
chunk carries the token usage, reported in :class:`LLMDone`. Closing the iterator closes the HTTP
response, which cancels the generation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx

from patter_core.errors import ConfigurationError, ProviderConnectionError, ProviderError
from patter_core.interfaces.llm import (
    LLM,
    ChatMessage,
    LLMCapabilities,
    LLMChunk,
    LLMDone,
    Role,
    TextDelta,
    ToolCallRequest,
    ToolSpec,
)
from patter_core.providers import iter_sse, raise_for_provider_status
from patter_openai._common import PROVIDER, HttpClientHolder, OpenAICredentials, as_object

__all__ = ["OpenAILLM", "chat_messages", "chat_tools"]

log = logging.getLogger("patter.openai.llm")


class OpenAILLM(LLM):
    """A chat model of the OpenAI Chat Completions API (or any server speaking it at ``base_url``).

    Args:
        model: ``gpt-4o-mini`` by default.
        temperature, max_tokens, parallel_tool_calls: sent only when given.
        extra_body: further request fields, merged last (``{"reasoning_effort": "low"}`` ...).
        api_key: falls back to ``OPENAI_API_KEY``.
        base_url: API root, ``https://api.openai.com/v1`` by default.
        timeout: seconds between two received bytes before the stream is declared dead.
    """

    capabilities = LLMCapabilities(tools=True, parallel_tool_calls=True)

    def __init__(
        self,
        *,
        model: str = "gpt-4o-mini",
        temperature: float | None = None,
        max_tokens: int | None = None,
        parallel_tool_calls: bool | None = None,
        extra_body: Mapping[str, Any] | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
    ) -> None:
        if temperature is not None and not 0.0 <= temperature <= 2.0:
            raise ConfigurationError(f"temperature must be between 0 and 2, got {temperature}")
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.parallel_tool_calls = parallel_tool_calls
        self.extra_body = dict(extra_body or {})
        self._credentials = OpenAICredentials(api_key, base_url)
        self._http = HttpClientHolder(self._credentials, timeout=timeout, connect_timeout=connect_timeout)

    @property
    def base_url(self) -> str:
        return self._credentials.base_url

    def request_body(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> dict[str, Any]:
        """The JSON body of one streamed request."""
        body: dict[str, Any] = {
            "model": self.model,
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": chat_messages(messages),
        }
        if tools:
            body["tools"] = chat_tools(tools)
            body["tool_choice"] = "auto"
            if self.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = self.parallel_tool_calls
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_completion_tokens"] = self.max_tokens
        body.update(self.extra_body)
        return body

    async def stream(
        self, messages: Sequence[ChatMessage], *, tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[LLMChunk]:
        body = self.request_body(messages, tools)
        client = self._http.get()
        try:
            async with client.stream("POST", "/chat/completions", json=body) as response:
                await raise_for_provider_status(response, provider=PROVIDER)
                async for chunk in _parse_stream(response):
                    yield chunk
        except httpx.TimeoutException as exc:
            raise ProviderConnectionError(
                f"chat completion timed out ({type(exc).__name__})", provider=PROVIDER, code="timeout"
            ) from None
        except httpx.TransportError as exc:
            raise ProviderConnectionError(
                f"chat completion connection failed: {exc}", provider=PROVIDER, code="connection_error"
            ) from None

    async def aclose(self) -> None:
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"OpenAILLM(model={self.model!r}, base_url={self.base_url!r})"


async def _parse_stream(response: httpx.Response) -> AsyncIterator[LLMChunk]:
    calls: dict[int, dict[str, str]] = {}
    finish_reason: str | None = None
    usage: dict[str, int] = {}
    done = False
    async for sse in iter_sse(response.aiter_bytes()):
        if sse.data.strip() == "[DONE]":
            done = True
            break
        try:
            chunk = json.loads(sse.data)
        except (ValueError, RecursionError):  # RecursionError: JSON nested absurdly deep
            log.warning("dropping a chat stream event that is not JSON: %.80r", sse.data)
            continue
        if not isinstance(chunk, dict):
            continue
        if "error" in chunk:
            raise _stream_error(chunk["error"])
        if isinstance(chunk.get("usage"), dict):
            usage = {k: v for k, v in chunk["usage"].items() if isinstance(v, int)}
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = as_object(choice.get("delta"))
            text = delta.get("content")
            if isinstance(text, str) and text:
                yield TextDelta(text)
            fragments = delta.get("tool_calls")
            for fragment in fragments if isinstance(fragments, list) else ():
                _merge_tool_fragment(calls, fragment)
            if isinstance(choice.get("finish_reason"), str):
                finish_reason = choice["finish_reason"]
                for call in _finished_calls(calls):
                    yield call
                calls.clear()
    if not done and finish_reason is None:
        raise ProviderConnectionError(
            "the chat stream ended before the reply was complete", provider=PROVIDER, code="incomplete_stream"
        )
    for call in _finished_calls(calls):
        yield call
    yield LLMDone(finish_reason=finish_reason or "stop", usage=usage)


def _merge_tool_fragment(calls: dict[int, dict[str, str]], fragment: object) -> None:
    if not isinstance(fragment, dict):
        return
    index = fragment.get("index", 0)
    if not isinstance(index, int):
        return
    call = calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
    if isinstance(fragment.get("id"), str) and fragment["id"]:
        call["id"] = fragment["id"]
    function = as_object(fragment.get("function"))
    if isinstance(function.get("name"), str) and function["name"]:
        call["name"] = function["name"]
    if isinstance(function.get("arguments"), str):
        call["arguments"] += function["arguments"]


def _finished_calls(calls: Mapping[int, Mapping[str, str]]) -> list[ToolCallRequest]:
    finished = []
    for index in sorted(calls):
        call = calls[index]
        if not call["name"]:
            log.warning("dropping streamed tool call #%d without a function name", index)
            continue
        finished.append(
            ToolCallRequest(
                call_id=call["id"] or f"call_{index}", name=call["name"], arguments=call["arguments"] or "{}"
            )
        )
    return finished


def _stream_error(error: object) -> ProviderError:
    if not isinstance(error, dict):
        return ProviderError(f"chat stream error: {error!r}", provider=PROVIDER)
    code = error.get("code") or error.get("type")
    return ProviderError(
        f"chat stream error: {error.get('message') or 'unknown error'}",
        provider=PROVIDER,
        code=str(code) if code else None,
    )


def chat_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """Chat Completions function tools (nested under ``function``, unlike the Realtime API's)."""
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": dict(t.parameters)},
        }
        for t in tools
    ]


def chat_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Provider-neutral history -> Chat Completions messages (assistant tool calls, tool results)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role is Role.TOOL:
            if not m.tool_call_id:
                raise ConfigurationError(
                    "a tool-result ChatMessage needs tool_call_id= (the call it answers)"
                )
            out.append({"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content})
        elif m.role is Role.ASSISTANT and m.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    "content": m.content or None,
                    "tool_calls": [
                        {
                            "id": c.call_id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": c.arguments},
                        }
                        for c in m.tool_calls
                    ],
                }
            )
        else:
            out.append({"role": m.role.value, "content": m.content})
    return out
