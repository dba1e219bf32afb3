"""Patter plugin for Deepgram: live streaming speech-to-text (stt ``deepgram``).

* :class:`DeepgramSTT` -- the provider; one WebSocket stream per call.

A fake Deepgram server for tests lives in :mod:`patter_deepgram.testing`.
"""

from patter_deepgram.stt import DeepgramSTT

__all__ = ["DeepgramSTT"]
__version__ = "0.1.0"
