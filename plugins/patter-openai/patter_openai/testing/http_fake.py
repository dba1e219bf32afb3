"""``FakeOpenAIHTTP``: local Chat Completions (SSE), ``/audio/speech`` and ``/audio/transcriptions``.

::

    async with FakeOpenAIHTTP() as fake:
        fake.script_chat(ChatScript(text="Sure, one moment."))
        llm = OpenAILLM(api_key="sk-test", base_url=fake.base_url)

* ``POST /v1/chat/completions`` (``stream: true`` only) streams a :class:`ChatScript` exactly as
  PROTOCOLS §6.1 shows: role chunk, content pieces, tool-call fragments (id/name first, arguments split),
  finish chunk, usage chunk (``choices: []``), ``data: [DONE]``. Unscripted requests get
  ``"You said: <last user message>"``. Failure injection: ``error_after`` (a mid-stream ``{"error"}``
  event), ``cut_after`` (connection aborted, no ``[DONE]``), ``http_status``.
* ``POST /v1/audio/speech`` (``response_format: pcm`` only) streams PCM16 24 kHz in ``speech_chunk_bytes``
  chunks; ``speech_gate`` (an ``asyncio.Event``) holds the rest of the body after the first chunk until set.
* ``POST /v1/audio/transcriptions`` parses the multipart upload, records the WAV's format in ``uploads``
  and answers the next of ``transcripts`` (default ``"hello"``) as ``{"text": ...}``.
* ``fail_next(path, status)`` makes the next request to ``path`` fail with an OpenAI-style error body.

Everything received is in ``requests`` (:class:`RecordedRequest`: body, headers, ``completed``,
``disconnected`` -- set when the client hung up mid-response).
"""

from __future__ import annotations

import asyncio
import io
import json
import wave
from collections.abc import AsyncIterator, Sequence
from typing import Any

import attrs

from patter_openai.testing import audio
from patter_openai.testing.http_server import HttpReply, RecordedRequest, TinyHttpServer
from patter_openai.testing.scripts import FakeToolCall

__all__ = ["ChatScript", "FakeOpenAIHTTP", "UploadedAudio"]

_SERVER_ERROR = {
    "message": "The server had an error while processing your request.",
    "type": "server_error",
    "code": None,
}


@attrs.define
class ChatScript:
    """One scripted chat completion stream."""

    text: str = ""
    tool_calls: Sequence[FakeToolCall] = ()
    usage: dict[str, int] = attrs.field(
        factory=lambda: {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}
    )
    finish_reason: str | None = None
    """Default: ``tool_calls`` when there are calls, else ``stop``."""
    error_after: int | None = None
    """Send ``data: {"error": ...}`` after this many chunks, then end the stream."""
    error: dict[str, Any] = attrs.field(factory=lambda: dict(_SERVER_ERROR))
    cut_after: int | None = None
    """Abort the TCP connection after this many chunks (no ``[DONE]``)."""
    http_status: int = 200
    chunk_delay: float = 0.0
    gate: asyncio.Event | None = None
    """When given, the stream waits for it after chunk number ``gate_after`` (0 is the role chunk)."""
    gate_after: int = 1


@attrs.define
class UploadedAudio:
    """What a transcription request uploaded."""

    fields: dict[str, str]
    filename: str
    content_type: str
    data: bytes
    wav_ok: bool = False
    sample_rate: int = 0
    channels: int = 0
    sample_width: int = 0
    frames: int = 0

    @property
    def duration_ms(self) -> float:
        return self.frames * 1000 / self.sample_rate if self.sample_rate else 0.0


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def chat_chunks(script: ChatScript) -> list[dict[str, Any]]:
    """The chunk objects of one stream (before the usage chunk and ``[DONE]``)."""
    chunks = [_chunk({"role": "assistant", "content": ""})]
    words = script.text.split(" ") if script.text else []
    for i, word in enumerate(words):
        chunks.append(_chunk({"content": word + (" " if i < len(words) - 1 else "")}))
    for index, call in enumerate(script.tool_calls):
        call_id = call.call_id or f"call_fake_{index}"
        first = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        delta: dict[str, Any] = {"tool_calls": [first]}
        if index == 0 and not script.text:
            delta = {"role": "assistant", "content": None, **delta}
        chunks.append(_chunk(delta))
        half = len(call.arguments) // 2
        for piece in (call.arguments[:half], call.arguments[half:]):
            if piece:
                chunks.append(_chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    finish = script.finish_reason or ("tool_calls" if script.tool_calls else "stop")
    chunks.append(_chunk({}, finish))
    return chunks


class FakeOpenAIHTTP:
    """See the module docstring. Start with ``async with`` (or :meth:`start` / :meth:`stop`)."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        chat: Sequence[ChatScript] = (),
        speech_audio: bytes | None = None,
        speech_chunk_bytes: int = 4800,
        speech_chunk_delay: float = 0.0,
        transcripts: Sequence[str] = (),
        host: str = "127.0.0.1",
    ) -> None:
        self.api_key = api_key
        self.chat_scripts: list[ChatScript] = list(chat)
        self.speech_audio = speech_audio
        self.speech_chunk_bytes = speech_chunk_bytes
        self.speech_chunk_delay = speech_chunk_delay
        self.speech_gate: asyncio.Event | None = None
        self.transcripts: list[str] = list(transcripts)
        self.uploads: list[UploadedAudio] = []
        self._failures: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self._http = TinyHttpServer(self._route, host=host)

    async def start(self) -> FakeOpenAIHTTP:
        await self._http.start()
        return self

    async def stop(self) -> None:
        await self._http.stop()

    async def __aenter__(self) -> FakeOpenAIHTTP:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self._http.host}:{self._http.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._http.requests

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self._http.requests if r.path == path]

    def script_chat(self, *scripts: ChatScript) -> None:
        self.chat_scripts.extend(scripts)

    def fail_next(self, path: str, status: int = 500, error: dict[str, Any] | None = None) -> None:
        self._failures.setdefault(path, []).append((status, error or dict(_SERVER_ERROR)))

    # -- routing ------------------------------------------------------------------------------

    async def _route(self, request: RecordedRequest) -> HttpReply:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or (self.api_key is not None and auth != f"Bearer {self.api_key}"):
            return HttpReply.json(
                {
                    "error": {
                        "message": "Incorrect API key provided.",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                        "param": None,
                    }
                },
                status=401,
            )
        if self._failures.get(request.path):
            status, error = self._failures[request.path].pop(0)
            return HttpReply.json({"error": error}, status=status)
        routes = {
            "/v1/chat/completions": self._chat,
            "/v1/audio/speech": self._speech,
            "/v1/audio/transcriptions": self._transcription,
        }
        handler = routes.get(request.path)
        if handler is None or request.method != "POST":
            return HttpReply.json(
                {
                    "error": {
                        "message": f"Unknown request URL: {request.method} {request.path}",
                        "type": "invalid_request_error",
                        "code": "unknown_url",
                    }
                },
                status=404,
            )
        return await handler(request)

    @staticmethod
    def _bad(message: str) -> HttpReply:
        return HttpReply.json(
            {"error": {"message": message, "type": "invalid_request_error", "code": None}}, 400
        )

    # -- chat ---------------------------------------------------------------------------------

    async def _chat(self, request: RecordedRequest) -> HttpReply:
        body = request.json()
        if body.get("stream") is not True or not isinstance(body.get("messages"), list):
            return self._bad("the fake serves streamed chat completions only (stream: true, messages: [...])")
        if self.chat_scripts:
            script = self.chat_scripts.pop(0)
        else:
            users = [m.get("content") for m in body["messages"] if m.get("role") == "user"]
            script = ChatScript(text=f"You said: {users[-1] if users else ''}")
        if script.http_status != 200:
            return HttpReply.json({"error": script.error}, status=script.http_status)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return HttpReply(
            headers={"Content-Type": "text/event-stream"}, stream=self._chat_stream(script, include_usage)
        )

    @staticmethod
    async def _chat_stream(script: ChatScript, include_usage: bool) -> AsyncIterator[bytes]:
        chunks = chat_chunks(script)
        for n, chunk in enumerate(chunks):
            if script.error_after is not None and n == script.error_after:
                yield b"data: " + json.dumps({"error": script.error}).encode() + b"\n\n"
                return
            if script.cut_after is not None and n == script.cut_after:
                raise ConnectionAbortedError("scripted cut")
            yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
            if n == script.gate_after and script.gate is not None:
                await script.gate.wait()
            if script.chunk_delay:
                await asyncio.sleep(script.chunk_delay)
        if include_usage:
            usage_chunk = {**_chunk({}), "choices": [], "usage": script.usage}
            yield b"data: " + json.dumps(usage_chunk).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"

    # -- speech -------------------------------------------------------------------------------

    async def _speech(self, request: RecordedRequest) -> HttpReply:
        body = request.json()
        for key in ("model", "voice", "input"):
            if not isinstance(body.get(key), str) or not body[key]:
                return self._bad(f"'{key}' is required")
        if body.get("response_format") != "pcm":
            return self._bad("the fake produces response_format 'pcm' only")
        if self.speech_audio is not None:
            data = self.speech_audio
        else:
            data = audio.tone_pcm16(max(200.0, 60.0 * len(body["input"])), 24000).astype("<i2").tobytes()
        return HttpReply(headers={"Content-Type": "audio/pcm"}, stream=self._speech_stream(data))

    async def _speech_stream(self, data: bytes) -> AsyncIterator[bytes]:
        step = max(2, self.speech_chunk_bytes)
        for n, start in enumerate(range(0, len(data), step)):
            yield data[start : start + step]
            if n == 0 and self.speech_gate is not None:
                await self.speech_gate.wait()
            if self.speech_chunk_delay:
                await asyncio.sleep(self.speech_chunk_delay)

    # -- transcription ------------------------------------------------------------------------

    async def _transcription(self, request: RecordedRequest) -> HttpReply:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data") or "boundary=" not in content_type:
            return self._bad("expected multipart/form-data")
        boundary = content_type.split("boundary=", 1)[1].strip().strip('"')
        fields, files = _parse_multipart(request.body, boundary)
        if "file" not in files or not fields.get("model"):
            return self._bad("'file' and 'model' are required")
        filename, part_type, data = files["file"]
        upload = UploadedAudio(fields=fields, filename=filename, content_type=part_type, data=data)
        try:
            with wave.open(io.BytesIO(data), "rb") as wav:
                upload.sample_rate, upload.channels = wav.getframerate(), wav.getnchannels()
                upload.sample_width, upload.frames = wav.getsampwidth(), wav.getnframes()
                upload.wav_ok = True
        except (wave.Error, EOFError):
            pass
        self.uploads.append(upload)
        text = self.transcripts.pop(0) if self.transcripts else "hello"
        if fields.get("response_format", "json") == "text":
            return HttpReply(headers={"Content-Type": "text/plain"}, body=text.encode())
        return HttpReply.json({"text": text, "usage": {"type": "duration", "seconds": 1}})


def _parse_multipart(body: bytes, boundary: str) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    for part in body.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part.partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").strip().split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        params = dict(
            (k.strip(), v.strip().strip('"'))
            for k, _, v in (p.partition("=") for p in disposition.split(";")[1:])
        )
        if "filename" in params:
            files[params.get("name", "")] = (params["filename"], headers.get("content-type", ""), content)
        elif "name" in params:
            fields[params["name"]] = content.decode("utf-8", "replace")
    return fields, files
