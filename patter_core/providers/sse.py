"""Server-sent events (``text/event-stream``) parsed from an async byte stream.

Implements the WHATWG event-stream rules that chat/TTS streaming APIs rely on: ``event:``, ``data:``
(multi-line data joined with newlines), ``id:``, comments (``:``) ignored, events dispatched on a blank
line, CRLF / LF / CR line endings (and only those: ``str.splitlines`` would also break on U+2028 and
friends, which may appear raw inside JSON strings), a leading byte-order mark dropped, and a final
event without a trailing blank line.

The result never depends on where the network cut the body into chunks: UTF-8 is decoded
incrementally (a character split across two chunks stays one character) and a CR at the very end of
a chunk waits for the next one before deciding whether it starts a CRLF.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import AsyncIterable, AsyncIterator

import attrs

__all__ = ["ServerSentEvent", "iter_sse"]

_EOL = re.compile(r"\r\n|\r|\n")


@attrs.frozen(slots=True)
class ServerSentEvent:
    data: str
    event: str = "message"
    id: str | None = None


def _split_lines(text: str, *, final: bool) -> tuple[list[str], str]:
    """Complete lines of ``text`` and the unfinished rest (a trailing lone CR is unfinished)."""
    lines: list[str] = []
    start = 0
    for match in _EOL.finditer(text):
        if not final and match.end() == len(text) and match.group() == "\r":
            break  # maybe the first half of a CRLF split across chunks
        lines.append(text[start : match.start()])
        start = match.end()
    return lines, text[start:]


class _EventBuilder:
    def __init__(self, max_event_bytes: int) -> None:
        self.max_event_bytes = max_event_bytes
        self.data: list[str] = []
        self.event = ""
        self.event_id: str | None = None
        self.size = 0

    def line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self.dispatch()
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            self.size += len(value)
            if self.size > self.max_event_bytes:
                raise ValueError(f"server-sent event larger than {self.max_event_bytes} bytes")
            self.data.append(value)
        elif field == "event":
            self.event = value
        elif field == "id":
            self.event_id = value
        return None

    def dispatch(self) -> ServerSentEvent | None:
        event = None
        if self.data:
            event = ServerSentEvent(
                data="\n".join(self.data), event=self.event or "message", id=self.event_id
            )
        self.data, self.event, self.size = [], "", 0
        return event


async def iter_sse(
    chunks: AsyncIterable[bytes], *, max_event_bytes: int = 4 * 1024 * 1024
) -> AsyncIterator[ServerSentEvent]:
    """Yield events from raw body chunks (for httpx: ``response.aiter_bytes()``).

    Raises ``ValueError`` when one event (or one unterminated line) exceeds ``max_event_bytes``.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    builder = _EventBuilder(max_event_bytes)
    pending = ""
    at_start = True
    async for chunk in chunks:
        text = decoder.decode(chunk)
        if at_start and text:
            text, at_start = text.removeprefix("\ufeff"), False
        lines, pending = _split_lines(pending + text, final=False)
        for line in lines:
            event = builder.line(line)
            if event is not None:
                yield event
        if len(pending) > max_event_bytes:
            raise ValueError(f"server-sent event line longer than {max_event_bytes} bytes")
    tail = pending + decoder.decode(b"", final=True)
    if at_start:
        tail = tail.removeprefix("\ufeff")
    lines, rest = _split_lines(tail, final=True)
    if rest:
        lines.append(rest)
    for line in lines:
        event = builder.line(line)
        if event is not None:
            yield event
    event = builder.dispatch()  # a final event without its blank line
    if event is not None:
        yield event
