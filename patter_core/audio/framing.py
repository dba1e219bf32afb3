"""Cut a byte stream of any chunk sizes into exact frames of the wire format.

Carriers expect outbound media in fixed frames (20 ms: 160 bytes of mu-law 8 kHz, 640 bytes of PCM16
16 kHz); providers deliver audio in whatever chunk sizes they like, odd byte counts included. A
:class:`Framer` buffers the remainder between pushes and, at the end of a stream, pads the last
partial frame with the format's silence byte. For 16-bit formats the frame size is even, so a sample
is never split across two frames.
"""

from __future__ import annotations

from .format import FRAME_MS, AudioFormat, Encoding

__all__ = ["Framer", "silence_byte"]


def silence_byte(fmt: AudioFormat) -> bytes:
    """The byte that encodes silence in ``fmt``: 0xFF for mu-law, 0xD5 for A-law, 0x00 for PCM."""
    if fmt.encoding is Encoding.MULAW:
        return b"\xff"
    if fmt.encoding is Encoding.ALAW:
        return b"\xd5"
    return b"\x00"


class Framer:
    """Turn arbitrary chunks into frames of exactly ``frame_bytes`` bytes.

    ``silence`` is the single byte used to pad the last partial frame. ``sample_width`` (bytes per
    sample, times channels) only validates that ``frame_bytes`` holds whole samples.
    """

    __slots__ = ("_buf", "frame_bytes", "silence")

    def __init__(self, frame_bytes: int, silence: bytes = b"\x00", *, sample_width: int = 1) -> None:
        if not isinstance(frame_bytes, int) or isinstance(frame_bytes, bool) or frame_bytes <= 0:
            raise ValueError(f"frame_bytes must be a positive int, got {frame_bytes!r}")
        if frame_bytes % sample_width:
            raise ValueError(
                f"frame_bytes={frame_bytes} would split a {sample_width}-byte sample across frames: "
                f"use a multiple of {sample_width} (Framer.for_format computes it)"
            )
        if not isinstance(silence, bytes) or len(silence) != 1:
            raise ValueError(f"silence must be a single byte such as b'\\xff', got {silence!r}")
        self.frame_bytes = frame_bytes
        self.silence = silence
        self._buf = bytearray()

    @classmethod
    def for_format(cls, fmt: AudioFormat, ms: int = FRAME_MS) -> Framer:
        """A framer of ``ms``-millisecond frames of ``fmt``, padding with its silence byte."""
        frame = fmt.frame_bytes(ms)
        if frame <= 0:
            raise ValueError(f"{ms} ms of {fmt} is less than one sample: use a longer frame")
        return cls(frame, silence_byte(fmt), sample_width=fmt.sample_width * fmt.channels)

    @property
    def pending(self) -> int:
        """Bytes buffered that do not yet fill a frame."""
        return len(self._buf)

    def push(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Add a chunk; return the complete frames now available, in order (possibly none)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"Framer.push expects bytes, got {type(data).__name__}")
        size = self.frame_bytes
        if not self._buf and len(data) == size:  # the common case: already one frame, no copy
            return [bytes(data)]
        self._buf += data
        n = len(self._buf) // size
        if n == 0:
            return []
        view = memoryview(self._buf)
        frames = [bytes(view[i * size : (i + 1) * size]) for i in range(n)]
        view.release()
        del self._buf[: n * size]
        return frames

    def flush(self, pad: bool = True) -> bytes | None:
        """Return the buffered remainder (padded to a whole frame with silence unless ``pad=False``).

        ``None`` when nothing is buffered. The framer is empty afterwards.
        """
        if not self._buf:
            return None
        rest = bytes(self._buf)
        self._buf.clear()
        if pad:
            rest += self.silence * (self.frame_bytes - len(rest))
        return rest

    def reset(self) -> None:
        """Drop anything buffered (after a barge-in clear)."""
        self._buf.clear()
