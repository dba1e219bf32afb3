"""OpenAILLM against the Chat Completions SSE fake (PROTOCOLS §6.1)."""

from __future__ import annotations

import asyncio

import pytest
from patter_openai import OpenAILLM
from patter_openai.testing import ChatScript, FakeOpenAIHTTP, FakeToolCall

from patter_core.errors import ConfigurationError, ProviderConnectionError, ProviderError
from patter_core.interfaces.llm import ChatMessage, LLMDone, TextDelta, ToolCallRequest

HISTORY = [ChatMessage("system", "You are terse."), ChatMessage("user", "Hi")]


def make_llm(fake: FakeOpenAIHTTP, api_key: str, **kwargs) -> OpenAILLM:
    return OpenAILLM(api_key=api_key, base_url=fake.base_url, **kwargs)


async def collect(llm: OpenAILLM, messages=HISTORY, **kwargs) -> list:
    return [chunk async for chunk in llm.stream(messages, **kwargs)]


async def test_text_stream_with_usage(fake_http: FakeOpenAIHTTP, api_key: str) -> None:
    fake_http.script_chat(ChatScript(text="Hello there. How can I help?"))
    llm = make_llm(fake_http, api_key)
    chunks = await collect(llm)
    await llm.aclose()
    assert "".join(c.text for c in chunks if isinstance(c, TextDelta)) == "Hello there. How can I help?"
    assert len([c for c in chunks if isinstance(c, TextDelta)]) == 6  # streamed word by word
    assert chunks[-1] == LLMDone("stop", {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70})
    [request] = fake_http.requests_to("/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {api_key}"
    assert request.json() == {
        "model": "gpt-4o-mini",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}],
    }


async def test_tool_calls_are_assembled_per_index(fake_http: FakeOpenAIHTTP, api_key: str, tools) -> None:
    fake_http.script_chat(
        ChatScript(
            tool_calls=[
                FakeToolCall("transfer_call", '{"number":"+15551234567"}', "call_abc"),
                FakeToolCall("end_call", '{"reason":"done"}', "call_def"),
            ]
        )
    )
    chunks = await collect(make_llm(fake_http, api_key, temperature=0.2, max_tokens=100), tools=tools)
    assert chunks == [
        ToolCallRequest("call_abc", "transfer_call", '{"number":"+15551234567"}'),
        ToolCallRequest("call_def", "end_call", '{"reason":"done"}'),
        LLMDone("tool_calls", {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}),
    ]
    body = fake_http.requests[-1].json()
    assert body["tools"][0] == {
        "type": "function",
        "function": {
            "name": "transfer_call",
            "description": "Transfer the caller to a human.",
            "parameters": {
                "type": "object",
                "properties": {"number": {"type": "string"}},
                "required": ["number"],
            },
        },
    }
    assert (
        body["tool_choice"] == "auto" and body["temperature"] == 0.2 and body["max_completion_tokens"] == 100
    )


async def test_protocol_vector_fragments(fake_http: FakeOpenAIHTTP, api_key: str) -> None:
    # the exact fragmentation of PROTOCOLS §6.1: '{"number":' + '"+15551234567"}'
    from patter_openai.testing.http_fake import chat_chunks

    script = ChatScript(tool_calls=[FakeToolCall("transfer_call", '{"number":"+15551234567"}', "call_abc")])
    deltas = [c["choices"][0]["delta"] for c in chat_chunks(script)]
    assert deltas[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "index": 0,
                "id": "call_abc",
                "type": "function",
                "function": {"name": "transfer_call", "arguments": ""},
            }
        ],
    }
    assert (
        "".join(d["tool_calls"][0]["function"]["arguments"] for d in deltas[1:-1])
        == '{"number":"+15551234567"}'
    )
    fake_http.script_chat(script)
    [call, _done] = await collect(make_llm(fake_http, api_key))
    assert call == ToolCallRequest("call_abc", "transfer_call", '{"number":"+15551234567"}')


async def test_messages_are_mapped(fake_http: FakeOpenAIHTTP, api_key: str) -> None:
    call = ToolCallRequest("call_abc", "transfer_call", '{"number":"+1"}')
    history = [
        ChatMessage("system", "sys"),
        ChatMessage("user", "Transfer me"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", '{"status":"ok"}', tool_call_id="call_abc", name="transfer_call"),
        ChatMessage("assistant", "Done."),
    ]
    await collect(make_llm(fake_http, api_key), history)
    assert fake_http.requests[-1].json()["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "Transfer me"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_abc",
                    "type": "function",
                    "function": {"name": "transfer_call", "arguments": '{"number":"+1"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_abc", "content": '{"status":"ok"}'},
        {"role": "assistant", "content": "Done."},
    ]
    with pytest.raises(ConfigurationError, match="tool_call_id"):
        await collect(make_llm(fake_http, api_key), [ChatMessage("tool", "x")])


async def test_mid_stream_error_raises_provider_error(fake_http: FakeOpenAIHTTP, api_key: str) -> None:
    fake_http.script_chat(
        ChatScript(
            text="one two three",
            error_after=2,
            error={"message": "overloaded", "type": "server_error", "code": "overloaded"},
        )
    )
    got: list = []
    with pytest.raises(ProviderError, match="overloaded") as info:
        async for chunk in make_llm(fake_http, api_key).stream(HISTORY):
            got.append(chunk)
    assert got == [TextDelta("one ")] and info.value.code == "overloaded"


async def test_http_errors(fake_http: FakeOpenAIHTTP, api_key: str) -> None:
    with pytest.raises(ProviderError, match=r"HTTP 401.*API key"):
        await collect(OpenAILLM(api_key="sk-wrong", base_url=fake_http.base_url))
    fake_http.fail_next("/v1/chat/completions", 429, {"message": "Rate limit reached", "type": "requests"})
    with pytest.raises(ProviderError, match=r"429.*Rate limit reached") as info:
        await collect(make_llm(fake_http, api_key))
    assert info.value.code == "429"


async def test_cut_stream_is_a_connection_error(fake_http: FakeOpenAIHTTP, api_key: str) -> None:
    fake_http.script_chat(ChatScript(text="one two three four", cut_after=2))
    with pytest.raises(ProviderConnectionError):
        await collect(make_llm(fake_http, api_key))


async def test_closing_the_stream_closes_the_request(fake_http: FakeOpenAIHTTP, api_key: str) -> None:
    gate = asyncio.Event()
    fake_http.script_chat(ChatScript(text="one two three", gate=gate))
    stream = make_llm(fake_http, api_key).stream(HISTORY)
    assert await anext(stream) == TextDelta("one ")
    await stream.aclose()
    request = fake_http.requests[-1]
    await asyncio.wait_for(request.finished.wait(), 2)
    assert request.disconnected and not request.completed
    gate.set()


async def test_unscripted_requests_echo(fake_http: FakeOpenAIHTTP, api_key: str) -> None:
    chunks = await collect(make_llm(fake_http, api_key))
    assert "".join(c.text for c in chunks if isinstance(c, TextDelta)) == "You said: Hi"


async def test_unreachable_server(api_key: str) -> None:
    async with FakeOpenAIHTTP() as fake:
        url = fake.base_url
    with pytest.raises(ProviderConnectionError, match="connection failed"):
        await collect(OpenAILLM(api_key=api_key, base_url=url))
