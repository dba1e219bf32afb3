"""Registers the Deepgram provider with Patter (entry point ``deepgram`` in group ``patter``)."""

from __future__ import annotations

from typing import Any

from patter_core.hookspecs import hookimpl

__all__ = ["register_stt"]


@hookimpl
def register_stt(register: Any) -> None:
    from patter_deepgram.stt import DeepgramSTT

    register(
        DeepgramSTT,
        name="deepgram",
        description="Deepgram live streaming speech-to-text (Nova models)",
        env=["DEEPGRAM_API_KEY"],
    )
