"""Fuzz target for the Deepgram live-results parser (see :mod:`patter_core.testing.fuzz`).

``deepgram`` -- ``Results`` / ``UtteranceEnd`` / ``SpeechStarted`` / ``Metadata`` / ``Error`` messages, in
sequence through one stream's handler: never raises, emits only well-typed STT events, and never more
than one end of utterance per run of final text. The stream is not connected (its handler is the
target; the wire is covered by the fake server's tests).
"""

from __future__ import annotations

import json
from typing import Any

from patter_core.audio.format import MULAW_8K
from patter_core.interfaces.stt import Transcript
from patter_core.testing.fuzz import Feed, FuzzTarget, check_fields
from patter_core.testing.mutate import Message
from patter_deepgram._stream import DeepgramStream
from patter_deepgram.stt import DeepgramSTT

__all__ = ["fuzz_targets"]

MESSAGES: tuple[dict[str, Any], ...] = (
    {
        "type": "Results",
        "channel_index": [0, 1],
        "duration": 1.98,
        "start": 0.0,
        "is_final": True,
        "speech_final": True,
        "from_finalize": False,
        "channel": {
            "alternatives": [
                {
                    "transcript": "hello there",
                    "confidence": 0.98,
                    "languages": ["en"],
                    "words": [{"word": "hello", "start": 0.08, "end": 0.4, "confidence": 0.99}],
                }
            ]
        },
        "metadata": {"request_id": "8c8ebea9", "model_info": {"name": "general-nova-3"}},
    },
    {
        "type": "Results",
        "is_final": False,
        "channel": {"alternatives": [{"transcript": "hel", "confidence": 0.5}]},
    },
    {"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": 2.5},
    {"type": "SpeechStarted", "channel": [0], "timestamp": 1.2},
    {"type": "Metadata", "request_id": "8c8ebea9", "sha256": "e3b0", "duration": 3.5, "channels": 1},
    {"type": "Error", "variant": "x", "description": "bad audio", "code": "DATA-0000", "message": "m"},
)


def _deepgram() -> FuzzTarget:
    async def make() -> Feed:
        stt = DeepgramSTT(api_key="fuzz-key", base_url="http://127.0.0.1:9")
        stream = DeepgramStream(stt, "ws://127.0.0.1:9/v1/listen", MULAW_8K)  # never connected
        ends_in_a_row = 0

        def feed(message: Message) -> None:
            nonlocal ends_in_a_row
            stream._handle(message)
            while not stream._events.empty():
                event = stream._events.get_nowait()
                check_fields(event)
                if isinstance(event, Transcript) and event.end_of_utterance:
                    ends_in_a_row += 1
                    if ends_in_a_row > 1 and not event.text:
                        raise AssertionError("two ends of utterance without final text in between")
                elif isinstance(event, Transcript) and event.final and event.text:
                    ends_in_a_row = 0

        return feed

    return FuzzTarget("deepgram", tuple(json.dumps(m) for m in MESSAGES), make)


def fuzz_targets() -> list[FuzzTarget]:
    return [_deepgram()]
