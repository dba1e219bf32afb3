"""The media-stream codecs this plugin speaks, and the ONE place that says how their bytes look.

Telnyx streams raw RTP payloads (no RTP header), base64 in JSON. Two codecs are offered:

* ``L16`` (the default): linear PCM, 16 kHz, mono, **big-endian** (network byte order). RFC 3551
  §4.5.11 defines L16 as network-order samples and an RTP payload is forwarded as-is; Pipecat's Telnyx
  serializer treats it the same way. Telnyx's docs do not state the byte order (PROTOCOLS.md §2.6), so
  this is the single line to change if a live test ever proves otherwise: :data:`L16` is
  :data:`patter_core.audio.L16_16K` (``Encoding.PCM16_BE``), and the core converts it to its canonical
  little-endian PCM16 16 kHz with one byte swap, no resampling.
* ``PCMU``: G.711 mu-law 8 kHz, the carrier's own default.

:func:`format_of_media_format` reads the ``media_format`` of a stream's ``start`` frame, accepting both
the current codec names (``"PCMU"``) and the older MIME spellings (``"audio/x-mulaw"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from patter_core.audio.format import ALAW_8K, L16_16K, MULAW_8K, AudioFormat, Encoding
from patter_core.errors import ConfigurationError

__all__ = ["CODECS", "L16", "PCMU", "StreamCodec", "format_of_media_format", "stream_codec"]


@attrs.frozen
class StreamCodec:
    """A codec as Call Control names it, and the audio format its payloads carry."""

    name: str
    """The value of ``stream_codec`` / ``stream_bidirectional_codec``."""
    format: AudioFormat

    @property
    def sampling_rate(self) -> int:
        """The value of ``stream_bidirectional_sampling_rate``."""
        return self.format.sample_rate


L16 = StreamCodec("L16", L16_16K)
"""Linear PCM 16 kHz, big-endian (see the module docstring)."""
PCMU = StreamCodec("PCMU", MULAW_8K)

CODECS: Mapping[str, StreamCodec] = {"L16": L16, "PCMU": PCMU}


def stream_codec(name: str) -> StreamCodec:
    """The codec called ``name`` (case-insensitive); the error lists the choices."""
    codec = CODECS.get(str(name).strip().upper())
    if codec is None:
        raise ConfigurationError(
            f"Telnyx codec must be one of {', '.join(repr(c) for c in CODECS)}, got {name!r}"
        )
    return codec


_MULAW_NAMES = {"PCMU", "AUDIO/X-MULAW", "AUDIO/PCMU", "MULAW", "ULAW"}
_ALAW_NAMES = {"PCMA", "AUDIO/X-ALAW", "AUDIO/PCMA", "ALAW"}
_L16_NAMES = {"L16", "AUDIO/L16", "LINEAR16"}


def format_of_media_format(media_format: Mapping[str, Any]) -> AudioFormat | None:
    """The audio format of a ``start`` frame's ``media_format``; ``None`` if this plugin cannot decode
    it (G.722, Opus, AMR-WB) or it is not mono."""
    encoding = media_format.get("encoding")
    if not isinstance(encoding, str):
        return None
    rate = media_format.get("sample_rate")
    channels = media_format.get("channels", 1)
    if rate is not None and (not isinstance(rate, int) or isinstance(rate, bool) or rate <= 0):
        return None
    if channels not in (1, None):
        return None
    name = encoding.strip().upper()
    if name in _MULAW_NAMES:
        return MULAW_8K if rate in (None, 8000) else AudioFormat(Encoding.MULAW, rate)
    if name in _ALAW_NAMES:
        return ALAW_8K if rate in (None, 8000) else AudioFormat(Encoding.ALAW, rate)
    if name in _L16_NAMES:
        return L16_16K if rate in (None, 16000) else AudioFormat(Encoding.PCM16_BE, rate)
    return None
