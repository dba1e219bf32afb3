"""Cut streamed reply text into sentences, as early as possible, for text-to-speech.

A sentence is released as soon as its end is certain: terminal punctuation followed by whitespace
(not after a known abbreviation, an initial or inside a number), or a line break. Very long runs
without punctuation are cut at a comma or space so synthesis can start.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator

__all__ = ["SentenceChunker", "split_sentences"]

_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "a.m",
    "p.m",
    "no",
    "inc",
    "ltd",
    "co",
    "corp",
    "dept",
    "approx",
    "min",
    "max",
    "ave",
    "blvd",
    "rd",
    "mt",
    "ft",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
}
_END = re.compile(r"[.!?…]+[\"')\]]*(?=\s)|\n+")


class SentenceChunker:
    """Feed text pieces with :meth:`push`; collect complete sentences; :meth:`flush` the remainder."""

    def __init__(self, *, max_chars: int = 220) -> None:
        self._buffer = ""
        self._max_chars = max_chars

    def push(self, text: str) -> list[str]:
        self._buffer += text
        out: list[str] = []
        start = 0
        for match in _END.finditer(self._buffer):
            end = match.end()
            candidate = self._buffer[start:end]
            if match.group().startswith((".",)) and _is_abbreviation(candidate):
                continue
            sentence = candidate.strip()
            if sentence:
                out.append(sentence)
            start = end
        self._buffer = self._buffer[start:]
        while len(self._buffer) > self._max_chars:
            cut = max(
                self._buffer.rfind(", ", 0, self._max_chars), self._buffer.rfind(" ", 0, self._max_chars)
            )
            if cut <= 0:
                cut = self._max_chars
            piece, self._buffer = self._buffer[: cut + 1].strip(), self._buffer[cut + 1 :]
            if piece:
                out.append(piece)
        return out

    def flush(self) -> str | None:
        rest, self._buffer = self._buffer.strip(), ""
        return rest or None


def _is_abbreviation(candidate: str) -> bool:
    words = candidate.rstrip(".").split()
    if not words:
        return False
    last = words[-1].lower().lstrip("(\"'")
    if last in _ABBREVIATIONS:
        return True
    return len(last) == 1 and last.isalpha()  # an initial: "J. Smith"


async def split_sentences(pieces: AsyncIterable[str], *, max_chars: int = 220) -> AsyncIterator[str]:
    """Sentences from a stream of text pieces, each yielded as soon as it is complete."""
    chunker = SentenceChunker(max_chars=max_chars)
    async for piece in pieces:
        for sentence in chunker.push(piece):
            yield sentence
    rest = chunker.flush()
    if rest:
        yield rest
