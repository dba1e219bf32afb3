"""PCM16 arrays and bytes: zero-copy views, strict validation, clear errors.

Every audio function of the core takes mono signed 16-bit samples, either as a 1-D ``numpy.int16``
array or as little-endian bytes. Validation lives here, once, so that a float array is never silently
truncated to int16 and an odd byte count never shifts every later sample by one byte.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["PCM16", "as_pcm16", "pcm16_from_bytes", "pcm16_to_bytes"]

PCM16: TypeAlias = npt.NDArray[np.int16]
"""A 1-D array of signed 16-bit mono samples (native byte order)."""

_LE_INT16 = np.dtype("<i2")


def pcm16_from_bytes(data: bytes | bytearray | memoryview) -> PCM16:
    """View little-endian PCM16 bytes as an int16 array, without copying.

    The result shares memory with ``data`` (read-only when ``data`` is ``bytes``): copy it before
    writing into it. Raises ``ValueError`` for an odd byte count, because the last byte would be half
    a sample.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"expected PCM16 bytes, got {type(data).__name__}")
    nbytes = memoryview(data).nbytes
    if nbytes % 2:
        raise ValueError(
            f"PCM16 data must hold whole 2-byte samples, got {nbytes} bytes: keep the odd trailing "
            "byte for the next chunk (audio.Converter does this for streams) or drop it"
        )
    arr = np.frombuffer(data, dtype=_LE_INT16)
    # On the (rare) big-endian host, convert to native order so arithmetic is right.
    return arr if arr.dtype.isnative else arr.astype(np.int16)


def as_pcm16(pcm: object, *, what: str = "audio") -> PCM16:
    """Validate ``pcm`` and return it as a 1-D native int16 array (no copy when it already is one).

    Accepts a 1-D ``int16`` array (any byte order) or little-endian PCM16 bytes. Rejects float and
    wider integer arrays with ``TypeError`` instead of truncating them, and multi-channel (2-D)
    arrays with ``ValueError``: the core is mono.
    """
    if isinstance(pcm, bytes | bytearray | memoryview):
        return pcm16_from_bytes(pcm)
    if not isinstance(pcm, np.ndarray):
        raise TypeError(
            f"{what} must be a numpy int16 array or PCM16 bytes, got {type(pcm).__name__}: "
            "use np.asarray(samples, dtype=np.int16)"
        )
    if pcm.dtype.kind != "i" or pcm.dtype.itemsize != 2:
        hint = (
            "scale and convert floats explicitly: (x * 32767).clip(-32768, 32767).astype(np.int16)"
            if pcm.dtype.kind == "f"
            else "convert explicitly with .astype(np.int16) after checking the range"
        )
        raise TypeError(f"{what} must be int16 PCM, got dtype {pcm.dtype}: {hint}")
    if pcm.ndim != 1:
        raise ValueError(
            f"{what} must be mono (a 1-D array), got shape {pcm.shape}: downmix first, "
            "e.g. pcm.mean(axis=1).astype(np.int16) for (frames, channels)"
        )
    if not pcm.dtype.isnative:
        return pcm.astype(np.int16)
    return pcm


def pcm16_to_bytes(pcm: object) -> bytes:
    """Little-endian PCM16 bytes of an int16 array (validated like :func:`as_pcm16`)."""
    arr = as_pcm16(pcm)
    return arr.astype(_LE_INT16, copy=False).tobytes()
