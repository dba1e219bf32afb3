"""Audio formats of the GA Realtime API and how they map onto Patter's :class:`AudioFormat`.

GA knows three formats (PROTOCOLS §3.3): ``{"type": "audio/pcm", "rate": 24000}`` (s16le mono, 24 kHz
only), ``{"type": "audio/pcmu"}`` (G.711 mu-law 8 kHz) and ``{"type": "audio/pcma"}`` (A-law 8 kHz).

Telephony audio passes through untouched when the service speaks the carrier's G.711 codec, so that is
what we *request*; but implementers report the service silently answering with PCM 24 kHz instead, so
the format actually used is whatever ``session.updated`` reports, and anything we do not recognise as
G.711 is treated as PCM 24 kHz (the one rate GA PCM has).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from patter_core.audio.format import ALAW_8K, MULAW_8K, PCM16_24K, AudioFormat

__all__ = ["PASSTHROUGH_FORMATS", "SUPPORTED_FORMATS", "format_from_wire", "request_format", "wire_format"]

#: Carrier formats the service can take and produce as they are.
PASSTHROUGH_FORMATS: tuple[AudioFormat, ...] = (MULAW_8K, ALAW_8K)
#: Everything a Realtime session can speak, by preference for a telephone line.
SUPPORTED_FORMATS: tuple[AudioFormat, ...] = (MULAW_8K, ALAW_8K, PCM16_24K)

_WIRE: Mapping[AudioFormat, dict[str, Any]] = {
    MULAW_8K: {"type": "audio/pcmu"},
    ALAW_8K: {"type": "audio/pcma"},
    PCM16_24K: {"type": "audio/pcm", "rate": 24000},
}


def request_format(carrier_format: AudioFormat) -> AudioFormat:
    """The format to ask for: the carrier's own when the service speaks it, else PCM 24 kHz."""
    return carrier_format if carrier_format in _WIRE else PCM16_24K


def wire_format(fmt: AudioFormat) -> dict[str, Any]:
    """The GA JSON object for ``fmt`` (one of :data:`SUPPORTED_FORMATS`)."""
    try:
        return dict(_WIRE[fmt])
    except KeyError:
        raise ValueError(
            f"the Realtime API cannot speak {fmt}; supported: {', '.join(map(str, _WIRE))}"
        ) from None


def format_from_wire(value: object) -> AudioFormat | None:
    """The :class:`AudioFormat` a ``session.updated`` format object names; ``None`` when absent/unknown.

    Accepts the GA object and, leniently, a bare string (``"audio/pcmu"``, beta ``"g711_ulaw"``).
    """
    kind = value.get("type") if isinstance(value, Mapping) else value
    if kind in ("audio/pcmu", "g711_ulaw"):
        return MULAW_8K
    if kind in ("audio/pcma", "g711_alaw"):
        return ALAW_8K
    if kind in ("audio/pcm", "pcm16"):
        return PCM16_24K
    return None
