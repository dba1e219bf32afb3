"""Load every local model before the first call, so no caller waits for it.

Models load lazily on first use anyway; :func:`warm_up` front-loads that (and one tiny inference of
each, which primes ONNX Runtime's and CTranslate2's kernels) and reports how long each took, for the
demo's start-up line and for benchmarks. It blocks: from async code run
``await asyncio.to_thread(warm_up)``.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["warm_up"]


def warm_up(*, vad: bool = True, stt: bool = True, tts: bool = True) -> dict[str, float]:
    """Verify and load the models; returns seconds spent per component (``vad``, ``stt``, ``tts``)."""
    timings: dict[str, float] = {}
    if vad:
        from patter_local.vad import _prefill_pool

        start = time.perf_counter()
        _prefill_pool()
        timings["vad"] = time.perf_counter() - start
    if tts:
        from patter_local.tts import LocalTTS

        start = time.perf_counter()
        LocalTTS().synthesize_sync("Hello.")
        timings["tts"] = time.perf_counter() - start
    if stt:
        from patter_local.stt import LocalSTT

        start = time.perf_counter()
        LocalSTT().transcribe_sync(np.zeros(8000, dtype="<i2").tobytes())
        timings["stt"] = time.perf_counter() - start
    return timings
