"""Server-sent events (``text/event-stream``) parsed from an async byte stream.

Implements the WHATWG event-stream rules that chat/TTS streaming APIs rely on: ``event:``, ``data:``
(multi-line data joined with newlines), ``id:``, comments (``:``) ignored, events dispatched on a blank
line, CRLF / LF / CR line endings, and a final event without a trailing blank line.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

import attrs

__all__ = ["ServerSentEvent", "iter_sse"]


@attrs.frozen(slots=True)
class ServerSentEvent:
    data: str
    event: str = "message"
    id: str | None = None


async def iter_sse(
    chunks: AsyncIterable[bytes], *, max_event_bytes: int = 4 * 1024 * 1024
) -> AsyncIterator[ServerSentEvent]:
    """Yield events from raw body chunks (for httpx: ``response.aiter_bytes()``)."""
    buffer = ""
    data: list[str] = []
    event = ""
    event_id: str | None = None
    size = 0
    async for chunk in chunks:
        buffer += chunk.decode("utf-8", errors="replace")
        lines = buffer.splitlines(keepends=True)
        buffer = ""
        if lines and not lines[-1].endswith(("\n", "\r")):
            buffer = lines.pop()
        for raw in lines:
            line = raw.rstrip("\r\n")
            if not line:
                if data:
                    yield ServerSentEvent(data="\n".join(data), event=event or "message", id=event_id)
                data, event, size = [], "", 0
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "data":
                size += len(value)
                if size > max_event_bytes:
                    raise ValueError(f"server-sent event larger than {max_event_bytes} bytes")
                data.append(value)
            elif field == "event":
                event = value
            elif field == "id":
                event_id = value
    if buffer.strip():
        field, _, value = buffer.rstrip("\r\n").partition(":")
        if field == "data":
            data.append(value.removeprefix(" "))
    if data:
        yield ServerSentEvent(data="\n".join(data), event=event or "message", id=event_id)
