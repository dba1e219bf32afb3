"""Stereo call recording (caller left, agent right), aligned on the call clock, written incrementally.

Each channel receives PCM16 chunks tagged with the call-clock position where they start (or appended
right after that channel's previous chunk). Gaps are silence. Both channels are interleaved and written
to disk as soon as both have advanced ``flush_ms`` past what is on disk; a channel that lags more than
``max_lag_ms`` behind the other is padded with silence so memory stays bounded (about
``max_lag_ms + flush_ms`` of audio per channel).

After every flush the RIFF and data sizes in the header are patched and the file object is flushed to
the OS, so the file is a valid WAV, readable by the stdlib ``wave`` module, even if the process dies
before :meth:`StereoRecorder.close` (at most the unflushed tail is lost). Each flush is small: one
interleave of ``flush_ms`` of audio (~6 KB at 16 kHz, 100 ms) and three small writes into the page
cache, a few tens of microseconds, acceptable on the event loop. On slow or network file systems, run
the recorder in a thread or record to local disk and move the file afterwards.

The RIFF format caps a file at 4 GiB (about 18.6 hours at 16 kHz stereo); audio past that is dropped.
"""

from __future__ import annotations

import logging
import os
import struct
from types import TracebackType
from typing import BinaryIO

import numpy as np

from .pcm import PCM16, as_pcm16

__all__ = ["StereoRecorder"]

log = logging.getLogger(__name__)

_HEADER_BYTES = 44
_MAX_DATA_FRAMES = (0xFFFFFFFF - 36) // 4  # RIFF sizes are 32-bit
_CALLER, _AGENT = 0, 1


def _header(sample_rate: int, data_bytes: int) -> bytes:
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        2,  # channels
        sample_rate,
        sample_rate * 4,  # byte rate
        4,  # block align
        16,  # bits per sample
        b"data",
        data_bytes,
    )


class StereoRecorder:
    """Record a call to a stereo 16-bit WAV file at ``path`` (created or truncated immediately).

    ``sample_rate`` is the rate of the PCM given to both ``write_*`` methods (the core's 16 kHz by
    default). ``at_ms`` is the call-clock position where a chunk starts; ``None`` continues right after
    the channel's previous chunk. A chunk overlapping audio not yet on disk replaces it (later audio
    wins); the part of a chunk positioned before what is already on disk is dropped, except that a
    ``None`` chunk of a channel that was padded (it lagged by more than ``max_lag_ms``) starts at the
    end of the disk data rather than losing audio. Writes after :meth:`close` are ignored, so late
    audio of a finished call is harmless.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sample_rate: int = 16000,
        *,
        flush_ms: float = 100.0,
        max_lag_ms: float = 1000.0,
    ) -> None:
        if not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive int in Hz, got {sample_rate!r}")
        self.path = os.fspath(path)
        self.sample_rate = sample_rate
        self._flush_samples = max(1, round(flush_ms * sample_rate / 1000))
        self._max_lag = max(self._flush_samples, round(max_lag_ms * sample_rate / 1000))
        self._file: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._file.write(_header(sample_rate, 0))
        self._file.flush()
        self._written = 0  # call-clock sample up to which audio has been flushed
        self._disk_frames = 0  # stereo frames in the data chunk (== _written until the size limit)
        # Per channel: audio from sample _written on (gaps as zeros), and where its next chunk goes.
        self._pending: list[PCM16] = [np.zeros(0, dtype=np.int16), np.zeros(0, dtype=np.int16)]
        self._next = [0, 0]

    # -- public API --------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._file is None

    @property
    def duration_ms(self) -> float:
        """Audio on disk so far, in ms."""
        return self._disk_frames * 1000 / self.sample_rate

    def write_caller(self, pcm: PCM16 | bytes, at_ms: float | None = None) -> None:
        """Add caller audio (left) starting at call-clock ``at_ms`` (None: right after the previous)."""
        self._write(_CALLER, pcm, at_ms)

    def write_agent(self, pcm: PCM16 | bytes, at_ms: float | None = None) -> None:
        """Add agent audio (right) starting at call-clock ``at_ms`` (None: right after the previous)."""
        self._write(_AGENT, pcm, at_ms)

    def clear_agent(self, at_ms: float) -> None:
        """The caller heard agent audio only up to ``at_ms`` (a barge-in cleared the rest).

        Agent audio scheduled after ``at_ms`` that is not yet on disk is dropped; the next agent chunk
        without ``at_ms`` starts there.
        """
        if self._file is None:
            return
        cut = max(self._sample(at_ms), self._written)
        keep = cut - self._written
        if keep < len(self._pending[_AGENT]):
            self._pending[_AGENT] = self._pending[_AGENT][:keep]
        self._next[_AGENT] = min(self._next[_AGENT], cut)

    def flush(self) -> None:
        """Write out what both channels have in common (normally automatic)."""
        if self._file is not None:
            self._flush_to(min(self._ends()))

    def close(self) -> None:
        """Write everything (padding the shorter channel with silence) and close. Idempotent."""
        if self._file is None:
            return
        try:
            self._flush_to(max(self._ends()))
        finally:
            self._file.close()
            self._file = None

    def __enter__(self) -> StereoRecorder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------------

    def _sample(self, at_ms: float) -> int:
        return round(at_ms * self.sample_rate / 1000)

    def _ends(self) -> tuple[int, int]:
        return (self._written + len(self._pending[0]), self._written + len(self._pending[1]))

    def _write(self, channel: int, pcm: PCM16 | bytes, at_ms: float | None) -> None:
        x = as_pcm16(pcm, what="recorded audio")
        if self._file is None or len(x) == 0:
            return
        # None continues the channel; if that point is already on disk, at the end of the disk data.
        start = max(self._next[channel], self._written) if at_ms is None else self._sample(at_ms)
        # A jump far ahead first writes out (padded) what precedes it, so memory stays bounded.
        ahead = min(start, start + len(x) - self._max_lag)
        if ahead - self._written > self._max_lag:
            self._flush_to(ahead)
        if start < self._written:  # already on disk (or before the call began): keep only the rest
            x = x[self._written - start :]
            start = self._written
        self._next[channel] = start + len(x)
        if len(x) == 0:
            return
        pending = self._pending[channel]
        offset = start - self._written
        end = offset + len(x)
        if end > len(pending):
            grown = np.zeros(end, dtype=np.int16)
            grown[: min(len(pending), offset)] = pending[:offset]
            pending = grown
        # Later audio wins over audio already scheduled at the same time (e.g. after a clear).
        pending[offset:end] = x
        self._pending[channel] = pending
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        lo, hi = sorted(self._ends())
        target = max(lo, hi - self._max_lag)  # a channel lagging more than max_lag is padded
        if target - self._written >= self._flush_samples:
            self._flush_to(target)

    def _flush_to(self, target: int) -> None:
        f = self._file
        if f is None or target <= self._written:
            return
        while self._written < target:  # blocks of at most one second bound the temporaries
            n = min(target - self._written, self.sample_rate)
            room = _MAX_DATA_FRAMES - self._disk_frames
            if 0 < room < n:
                log.warning(
                    "recording %s reached the WAV size limit (4 GiB); dropping later audio", self.path
                )
            frames = np.zeros((max(0, min(n, room)), 2), dtype="<i2")
            for ch in (_CALLER, _AGENT):
                have = self._pending[ch][: len(frames)]
                frames[: len(have), ch] = have
                self._pending[ch] = self._pending[ch][n:]
            self._written += n
            if len(frames):
                f.write(frames.tobytes())
                self._disk_frames += len(frames)
        data_bytes = self._disk_frames * 4
        f.seek(4)
        f.write(struct.pack("<I", 36 + data_bytes))
        f.seek(40)
        f.write(struct.pack("<I", data_bytes))
        f.seek(0, os.SEEK_END)
        f.flush()
