"""Caller audio that arrives before a provider is connected, kept (bounded) and replayed in order.

Callers often speak the moment the call connects, while the engine or recogniser is still opening
its socket; dropping those frames loses the first words.
"""

from __future__ import annotations

from collections import deque

__all__ = ["EarlyAudio"]


class EarlyAudio:
    def __init__(self, max_bytes: int = 5 * 16000 * 2) -> None:
        self._frames: deque[bytes] = deque()
        self._bytes = 0
        self._max = max_bytes
        self.dropped = 0

    def add(self, payload: bytes) -> None:
        self._frames.append(payload)
        self._bytes += len(payload)
        while self._bytes > self._max:
            self._bytes -= len(self._frames.popleft())
            self.dropped += 1

    def drain(self) -> list[bytes]:
        frames, self._frames, self._bytes = list(self._frames), deque(), 0
        return frames
