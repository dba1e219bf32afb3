"""Patter plugin for ElevenLabs: the Conversational AI engine and text-to-speech.

* :class:`ElevenLabsConvAI` -- engine ``elevenlabs-convai``: an ElevenLabs agent answers the call;
* :class:`ElevenLabsTTS` -- tts ``elevenlabs``: voices for the pipeline, streamed in the carrier's format.

Fake ElevenLabs servers for tests live in :mod:`patter_elevenlabs.testing`.
"""

from patter_elevenlabs._formats import FORMATS, format_from_name, format_name
from patter_elevenlabs.convai import ElevenLabsConvAI
from patter_elevenlabs.tts import ElevenLabsTTS

__all__ = ["FORMATS", "ElevenLabsConvAI", "ElevenLabsTTS", "format_from_name", "format_name"]
__version__ = "0.1.0"
