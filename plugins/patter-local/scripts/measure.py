"""Measure patter-local's figures on this machine (the numbers in the README).

Run in a fresh process (cold model loads): ``python plugins/patter-local/scripts/measure.py``.
Prints model load times, TTS time to first audio per sentence, STT time and WER per utterance over
the mu-law phone path, and VAD CPU time per 32 ms window.
"""

from __future__ import annotations

import statistics
import time

import numpy as np


def main() -> None:
    t0 = time.perf_counter()
    import patter_local
    from patter_local import LocalSTT, LocalTTS, LocalVAD
    from patter_local.testing import AGENT_LINES, CALLER_LINES, phone_line, word_error_rate

    print(f"import patter_local: {time.perf_counter() - t0:.3f} s")
    print("warm_up (cold, incl. sha256 checks):", {k: round(v, 3) for k, v in patter_local.warm_up().items()})

    voices = {"agent": LocalTTS(voice="agent"), "caller": LocalTTS(voice="caller")}
    for name, tts in voices.items():
        firsts, rtf = [], []
        for line in CALLER_LINES + AGENT_LINES:
            start = time.perf_counter()
            sentences = tts._start(line)
            first = next(sentences)
            firsts.append(time.perf_counter() - start)
            total = first.size + sum(part.size for part in sentences)
            rtf.append((time.perf_counter() - start) / (total / 22050))
        print(
            f"tts {name}: first audio median {statistics.median(firsts) * 1000:.0f} ms, "
            f"max {max(firsts) * 1000:.0f} ms; real-time factor {statistics.median(rtf):.3f}"
        )

    stt = LocalSTT()
    for name, lines in (("caller", CALLER_LINES), ("agent", AGENT_LINES)):
        errors = words = 0
        times = []
        for line in lines:
            pcm = phone_line(voices[name].synthesize_sync(line), 22050)
            start = time.perf_counter()
            text = stt.transcribe_sync(pcm.tobytes())
            times.append(time.perf_counter() - start)
            e, n = word_error_rate(line, text)
            errors, words = errors + e, words + n
            if e:
                print(f"   {line!r} -> {text!r}")
        print(
            f"stt on {name} voice over mu-law: WER {errors / words:.1%} ({errors}/{words}); "
            f"per utterance median {statistics.median(times):.2f} s, max {max(times):.2f} s"
        )

    for rate in (16000, 8000):
        stream = LocalVAD().create_stream(rate)
        audio = np.random.default_rng(0).normal(0, 3000, rate * 20).astype(np.int16)
        frame = rate // 50
        start = time.perf_counter()
        for offset in range(0, audio.size, frame):
            stream.process(audio[offset : offset + frame])
        per_window = (time.perf_counter() - start) / (audio.size / (rate * 0.032))
        stream.close()
        print(f"vad {rate} Hz: {per_window * 1e6:.0f} µs per 32 ms window (fed 20 ms frames, incl. Python)")


if __name__ == "__main__":
    main()
