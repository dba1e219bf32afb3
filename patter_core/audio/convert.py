"""Format conversion between two audio formats, built once per call per direction.

A :class:`Converter` decodes the source encoding to int16 (G.711 tables, byte swap for big-endian
L16), resamples with the low-delay streaming :class:`~patter_core.audio.resample.Resampler` when the
rates differ, and encodes to the destination. Equal formats pass the very same bytes object through;
G.711 to G.711 at the same rate is one ``bytes.translate``; L16 (big-endian) to PCM16 at the same rate
is one byte swap. Mono only: multi-channel formats are rejected when the converter is built.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .format import AudioFormat, Encoding
from .g711 import (
    ALAW_TO_ULAW,
    ULAW_TO_ALAW,
    alaw_decode,
    alaw_encode,
    ulaw_decode,
    ulaw_encode,
)
from .pcm import PCM16, as_pcm16, pcm16_from_bytes
from .resample import Resampler

__all__ = ["Converter", "from_pcm16", "to_pcm16"]

_BE_INT16 = np.dtype(">i2")


def _check_mono(fmt: AudioFormat, role: str) -> None:
    if not isinstance(fmt, AudioFormat):
        raise TypeError(f"{role} must be an AudioFormat, got {type(fmt).__name__}")
    if fmt.channels != 1:
        raise ValueError(
            f"{role} format {fmt} has {fmt.channels} channels; the audio core is mono: "
            "downmix before converting, or declare the format with channels=1"
        )


def _as_bytes_like(data: object, what: str) -> bytes | bytearray | memoryview:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"{what} expects bytes, got {type(data).__name__}")
    return data


def to_pcm16(data: bytes | bytearray | memoryview, fmt: AudioFormat) -> PCM16:
    """Decode ``data`` in format ``fmt`` to int16 samples at ``fmt.sample_rate`` (no resampling).

    PCM16 input is returned as a zero-copy read-only view. 16-bit input must hold whole samples
    (``ValueError`` otherwise; a :class:`Converter` carries odd bytes across chunks for streams).
    """
    _check_mono(fmt, "to_pcm16")
    data = _as_bytes_like(data, "to_pcm16")
    enc = fmt.encoding
    if enc is Encoding.MULAW:
        return ulaw_decode(data)
    if enc is Encoding.ALAW:
        return alaw_decode(data)
    if enc is Encoding.PCM16:
        return pcm16_from_bytes(data)
    pcm16_from_bytes(data)  # validates the length with the same message
    return np.frombuffer(data, dtype=_BE_INT16).astype(np.int16)


def from_pcm16(pcm: PCM16 | bytes | bytearray | memoryview, fmt: AudioFormat) -> bytes:
    """Encode int16 samples (already at ``fmt.sample_rate``) to ``fmt``'s encoding (no resampling)."""
    _check_mono(fmt, "from_pcm16")
    arr = as_pcm16(pcm, what="from_pcm16 input")
    enc = fmt.encoding
    if enc is Encoding.MULAW:
        return ulaw_encode(arr)
    if enc is Encoding.ALAW:
        return alaw_encode(arr)
    if enc is Encoding.PCM16:
        return arr.astype("<i2", copy=False).tobytes()
    return arr.astype(_BE_INT16).tobytes()


class Converter:
    """Streaming converter from ``src`` to ``dst`` (both mono :class:`AudioFormat`).

    ``convert`` takes chunks of any size, carrying an odd trailing byte of 16-bit input to the next
    call, and returns everything it can produce now; ``flush`` drains the resampler at the end of a
    stream (and drops a dangling half sample); ``reset`` forgets all state (after a barge-in clear).
    """

    __slots__ = ("_carry", "_fast", "_resampler", "dst", "passthrough", "src")

    def __init__(self, src: AudioFormat, dst: AudioFormat) -> None:
        _check_mono(src, "source")
        _check_mono(dst, "destination")
        self.src = src
        self.dst = dst
        self.passthrough: bool = src == dst
        """True when both formats are equal: ``convert`` returns its argument unchanged."""
        self._carry = b""
        self._resampler: Resampler | None = None
        self._fast: Callable[[bytes], bytes] | None = None
        if self.passthrough:
            return
        if src.sample_rate != dst.sample_rate:
            self._resampler = Resampler(src.sample_rate, dst.sample_rate)
            return
        pair = (src.encoding, dst.encoding)
        if pair == (Encoding.MULAW, Encoding.ALAW):
            self._fast = lambda b: b.translate(ULAW_TO_ALAW)
        elif pair == (Encoding.ALAW, Encoding.MULAW):
            self._fast = lambda b: b.translate(ALAW_TO_ULAW)
        elif set(pair) == {Encoding.PCM16, Encoding.PCM16_BE}:
            self._fast = lambda b: np.frombuffer(b, dtype=np.uint16).byteswap().tobytes()

    def __repr__(self) -> str:
        return f"Converter({self.src} -> {self.dst}{', passthrough' if self.passthrough else ''})"

    def convert(self, data: bytes) -> bytes:
        """Convert the next chunk of the stream (any length; empty is fine)."""
        if self.passthrough:
            return data
        buf = bytes(_as_bytes_like(data, "Converter.convert"))
        if self.src.sample_width == 2:
            if self._carry:
                buf = self._carry + buf
                self._carry = b""
            if len(buf) % 2:
                self._carry = buf[-1:]
                buf = buf[:-1]
        if self._fast is not None:
            return self._fast(buf)
        pcm = to_pcm16(buf, self.src)
        if self._resampler is not None:
            pcm = self._resampler.process(pcm)
        return from_pcm16(pcm, self.dst)

    def flush(self) -> bytes:
        """End of stream: the resampler's remaining audio, encoded (``b""`` when there is none)."""
        self._carry = b""
        if self._resampler is None:
            return b""
        return from_pcm16(self._resampler.flush(), self.dst)

    def reset(self) -> None:
        """Forget carried bytes and filter history (the next chunk starts a new stream)."""
        self._carry = b""
        if self._resampler is not None:
            self._resampler.reset()
