"""Vendor-side audio for the fakes: tones, G.711 and an energy meter.

Deliberately independent of :mod:`patter_core.audio` (G.711 per PROTOCOLS §7, written again here), so
a bug in the core's codecs cannot be hidden by a fake that shares it.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
import soxr

__all__ = ["decode", "encode", "rms_dbfs", "tone_pcm16"]

_BIAS, _CLIP = 0x84, 32635


@functools.cache
def _ulaw_decode_table() -> npt.NDArray[np.int16]:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    sign, exp, mant = u & 0x80, (u >> 4) & 0x07, u & 0x0F
    mag = (((mant << 3) + _BIAS) << exp) - _BIAS
    return np.where(sign != 0, -mag, mag).astype(np.int16)


@functools.cache
def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    s = np.arange(-32768, 32768, dtype=np.int32)
    sign = np.where(s < 0, 0x80, 0)
    mag = np.minimum(np.abs(s), _CLIP) + _BIAS
    exp = np.clip(np.floor(np.log2(mag)).astype(np.int32) - 7, 0, 7)
    mant = (mag >> (exp + 3)) & 0x0F
    codes: npt.NDArray[np.uint8] = (~(sign | (exp << 4) | mant) & 0xFF).astype(np.uint8)
    return codes


@functools.cache
def _alaw_decode_table() -> npt.NDArray[np.int16]:
    out = np.zeros(256, dtype=np.int16)
    for code in range(256):
        a = code ^ 0x55
        t = (a & 0x0F) << 4
        seg = (a & 0x70) >> 4
        t = t + 8 if seg == 0 else (t + 0x108) << (seg - 1) if seg > 1 else t + 0x108
        out[code] = t if a & 0x80 else -t
    return out


@functools.cache
def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    ends = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)
    out = np.zeros(65536, dtype=np.uint8)
    for i, sample in enumerate(range(-32768, 32768)):
        pcm = sample >> 3
        mask = 0xD5 if pcm >= 0 else 0x55
        if pcm < 0:
            pcm = -pcm - 1
        seg = next((n for n, end in enumerate(ends) if pcm <= end), 8)
        if seg >= 8:
            out[i] = 0x7F ^ mask
            continue
        aval = seg << 4
        aval |= (pcm >> 1) & 0x0F if seg < 2 else (pcm >> seg) & 0x0F
        out[i] = aval ^ mask
    return out


def decode(data: bytes, encoding: str) -> npt.NDArray[np.int16]:
    """``audio/pcmu`` / ``audio/pcma`` / ``audio/pcm`` bytes -> int16 samples."""
    if encoding == "audio/pcmu":
        return _ulaw_decode_table()[np.frombuffer(data, dtype=np.uint8)]
    if encoding == "audio/pcma":
        return _alaw_decode_table()[np.frombuffer(data, dtype=np.uint8)]
    return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.int16)


def encode(pcm: npt.NDArray[np.int16], encoding: str) -> bytes:
    """int16 samples -> bytes of ``encoding`` (one of the GA format types)."""
    index = pcm.astype(np.int32) + 32768
    if encoding == "audio/pcmu":
        return _ulaw_encode_table()[index].tobytes()
    if encoding == "audio/pcma":
        return _alaw_encode_table()[index].tobytes()
    return pcm.astype("<i2").tobytes()


def rate_of(encoding: str) -> int:
    return 24000 if encoding == "audio/pcm" else 8000


def tone_pcm16(ms: float, rate: int, *, freq: float = 440.0, amplitude: float = 0.3) -> npt.NDArray[np.int16]:
    """A sine tone with 5 ms fades (no clicks)."""
    n = int(rate * ms / 1000)
    t = np.arange(n) / rate
    wave = np.sin(2 * np.pi * freq * t) * amplitude * 32767
    fade = min(n // 2, int(rate * 0.005))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        wave[:fade] *= ramp
        wave[n - fade :] *= ramp[::-1]
    return wave.astype(np.int16)


def resample(pcm: npt.NDArray[np.int16], src: int, dst: int) -> npt.NDArray[np.int16]:
    if src == dst or len(pcm) == 0:
        return pcm
    return np.asarray(soxr.resample(pcm, src, dst, quality="HQ"), dtype=np.int16)


def rms_dbfs(pcm: npt.NDArray[np.int16]) -> float:
    if len(pcm) == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))
    return float(20 * np.log10(max(rms, 1e-3) / 32768.0))
