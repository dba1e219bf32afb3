"""The audio core: G.711 codecs, resampling, format conversion, framing, pacing, playback tracking,
an energy VAD and call recording.

The core's canonical audio is PCM16 mono 16 kHz in 20 ms frames (:data:`CANONICAL`). Conversion
happens once at each boundary with a :class:`Converter` built per call and direction; equal formats
pass through untouched. Nothing on the live path runs per-sample Python: codecs are numpy lookup
tables and :class:`Resampler` is a polyphase FIR applied with one matrix product per chunk.
"""

from __future__ import annotations

from .convert import Converter, from_pcm16, to_pcm16
from .dtmf import DTMF_FREQUENCIES, dtmf_tones
from .energy_vad import EnergyVAD, EnergyVADStream
from .format import (
    ALAW_8K,
    CANONICAL,
    FRAME_MS,
    L16_16K,
    MULAW_8K,
    PCM16_8K,
    PCM16_16K,
    PCM16_22K,
    PCM16_24K,
    PCM16_44K,
    PCM16_48K,
    AudioFormat,
    Encoding,
)
from .framing import Framer, silence_byte
from .g711 import alaw_decode, alaw_encode, alaw_to_ulaw, ulaw_decode, ulaw_encode, ulaw_to_alaw
from .pacing import Pacer
from .pcm import as_pcm16, pcm16_from_bytes, pcm16_to_bytes
from .playback import MarkPosition, PlaybackTracker
from .recording import StereoRecorder
from .resample import Resampler, resample_offline

__all__ = [
    "ALAW_8K",
    "CANONICAL",
    "DTMF_FREQUENCIES",
    "FRAME_MS",
    "L16_16K",
    "MULAW_8K",
    "PCM16_8K",
    "PCM16_16K",
    "PCM16_22K",
    "PCM16_24K",
    "PCM16_44K",
    "PCM16_48K",
    "AudioFormat",
    "Converter",
    "Encoding",
    "EnergyVAD",
    "EnergyVADStream",
    "Framer",
    "MarkPosition",
    "Pacer",
    "PlaybackTracker",
    "Resampler",
    "StereoRecorder",
    "alaw_decode",
    "alaw_encode",
    "alaw_to_ulaw",
    "as_pcm16",
    "dtmf_tones",
    "from_pcm16",
    "pcm16_from_bytes",
    "pcm16_to_bytes",
    "resample_offline",
    "silence_byte",
    "to_pcm16",
    "ulaw_decode",
    "ulaw_encode",
    "ulaw_to_alaw",
]
