"""G.711 mu-law and A-law codecs as lookup tables (no per-sample Python).

Decoding indexes a 256-entry int16 table with the code bytes; encoding indexes a 65536-entry uint8
table with the samples viewed as ``uint16``. Both tables are built once at import, vectorised.

mu-law encoder: the 16-bit formulation of ITU-T G.711 (BIAS 0x84, CLIP 32635, as in the classic
``g711.c``). CPython's ``audioop.lin2ulaw`` first shifts the sample right by 2 and runs a 14-bit
variant, which puts exactly 381 negative inputs (e.g. -1, -31611) one code lower in magnitude than
this encoder; no positive input differs. Both are valid G.711 within the quantisation step, and the
decoder is bit-exact with ``audioop.ulaw2lin`` for all 256 codes. Tests compare with this formulation.

A-law: the classic ``g711.c`` algorithm (13-bit magnitude, even bits inverted with 0x55), which is
bit-exact with ``audioop.lin2alaw`` / ``alaw2lin`` in both directions.

Silence: mu-law ``0xFF`` (0x7F is "negative zero" and decodes to 0 too); A-law ``0xD5`` (decodes to +8).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .pcm import PCM16, as_pcm16

__all__ = [
    "ALAW_DECODE_TABLE",
    "ALAW_ENCODE_TABLE",
    "ALAW_SILENCE",
    "ALAW_TO_ULAW",
    "ULAW_DECODE_TABLE",
    "ULAW_ENCODE_TABLE",
    "ULAW_SILENCE",
    "ULAW_TO_ALAW",
    "alaw_decode",
    "alaw_encode",
    "alaw_to_ulaw",
    "ulaw_decode",
    "ulaw_encode",
    "ulaw_to_alaw",
]

ULAW_SILENCE = 0xFF
ALAW_SILENCE = 0xD5

_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635


def _build_ulaw_decode() -> npt.NDArray[np.int16]:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    sign, exp, mant = u & 0x80, (u >> 4) & 0x07, u & 0x0F
    mag = (((mant << 3) + _ULAW_BIAS) << exp) - _ULAW_BIAS
    return np.where(sign != 0, -mag, mag).astype(np.int16)


def _build_ulaw_encode() -> npt.NDArray[np.uint8]:
    s = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16).astype(np.int32)
    sign = np.where(s < 0, 0x80, 0x00)
    mag = np.minimum(np.abs(s), _ULAW_CLIP) + _ULAW_BIAS  # 132 .. 32767
    # Exponent = index of the highest set bit among bits 14..7 (0 when only bit 7 or lower is set).
    exp = np.zeros_like(mag)
    for bit in range(8, 15):
        exp += mag >= (1 << bit)
    mant = (mag >> (exp + 3)) & 0x0F
    table: npt.NDArray[np.uint8] = (~(sign | (exp << 4) | mant) & 0xFF).astype(np.uint8)
    return table


_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)


def _build_alaw_decode() -> npt.NDArray[np.int16]:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


def _build_alaw_encode() -> npt.NDArray[np.uint8]:
    s = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16).astype(np.int32) >> 3
    mask = np.where(s >= 0, 0xD5, 0x55)
    mag = np.where(s >= 0, s, -s - 1)  # 0 .. 4096
    seg = np.searchsorted(_ALAW_SEG_END, mag, side="left")  # first segment whose end >= mag
    shift = np.where(seg < 2, 1, seg)
    aval = (np.minimum(seg, 7) << 4) | ((mag >> shift) & 0x0F)
    aval = np.where(seg >= 8, 0x7F, aval)
    return ((aval ^ mask) & 0xFF).astype(np.uint8)


ULAW_DECODE_TABLE: npt.NDArray[np.int16] = _build_ulaw_decode()
"""int16 value of each mu-law code byte."""
ULAW_ENCODE_TABLE: npt.NDArray[np.uint8] = _build_ulaw_encode()
"""mu-law code of each int16 sample, indexed by the sample's uint16 bit pattern."""
ALAW_DECODE_TABLE: npt.NDArray[np.int16] = _build_alaw_decode()
ALAW_ENCODE_TABLE: npt.NDArray[np.uint8] = _build_alaw_encode()
for _table in (ULAW_DECODE_TABLE, ULAW_ENCODE_TABLE, ALAW_DECODE_TABLE, ALAW_ENCODE_TABLE):
    _table.flags.writeable = False

ULAW_TO_ALAW: bytes = ALAW_ENCODE_TABLE[ULAW_DECODE_TABLE.view(np.uint16)].tobytes()
"""``bytes.translate`` table: mu-law code -> A-law code (decode then re-encode)."""
ALAW_TO_ULAW: bytes = ULAW_ENCODE_TABLE[ALAW_DECODE_TABLE.view(np.uint16)].tobytes()
"""``bytes.translate`` table: A-law code -> mu-law code."""


def _codes(data: object, what: str) -> npt.NDArray[np.uint8]:
    if isinstance(data, bytes | bytearray | memoryview):
        return np.frombuffer(data, dtype=np.uint8)
    if isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 1:
        return data
    raise TypeError(
        f"{what} expects G.711 code bytes (bytes or a 1-D uint8 array), got {type(data).__name__}"
    )


def ulaw_decode(data: bytes | bytearray | memoryview) -> PCM16:
    """Decode mu-law bytes to a new int16 array (one sample per byte)."""
    return ULAW_DECODE_TABLE[_codes(data, "ulaw_decode")]


def alaw_decode(data: bytes | bytearray | memoryview) -> PCM16:
    """Decode A-law bytes to a new int16 array (one sample per byte)."""
    return ALAW_DECODE_TABLE[_codes(data, "alaw_decode")]


def ulaw_encode(pcm: PCM16 | bytes | bytearray | memoryview) -> bytes:
    """Encode int16 samples (array, or little-endian PCM16 bytes) to mu-law bytes.

    Raises ``TypeError`` for non-int16 arrays (floats are never truncated silently) and
    ``ValueError`` for odd-length bytes or multi-channel arrays.
    """
    arr = as_pcm16(pcm, what="ulaw_encode input")
    return ULAW_ENCODE_TABLE[arr.view(np.uint16)].tobytes()


def alaw_encode(pcm: PCM16 | bytes | bytearray | memoryview) -> bytes:
    """Encode int16 samples (array, or little-endian PCM16 bytes) to A-law bytes (see ulaw_encode)."""
    arr = as_pcm16(pcm, what="alaw_encode input")
    return ALAW_ENCODE_TABLE[arr.view(np.uint16)].tobytes()


def ulaw_to_alaw(data: bytes | bytearray | memoryview) -> bytes:
    """Transcode mu-law to A-law at the same rate with one ``bytes.translate`` (no int16 detour)."""
    return bytes(data).translate(ULAW_TO_ALAW)


def alaw_to_ulaw(data: bytes | bytearray | memoryview) -> bytes:
    """Transcode A-law to mu-law at the same rate with one ``bytes.translate``."""
    return bytes(data).translate(ALAW_TO_ULAW)
