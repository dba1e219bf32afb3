"""Benchmark of the audio core, side by side with stdlib ``audioop`` and ``soxr.ResampleStream``.

Run ``python bench/audio.py`` (``--quick`` for a shorter run); it prints markdown tables:

* per-frame CPU (median of several runs, microseconds per 20 ms frame) of every codec, resampling
  path, format-conversion chain and per-frame helper;
* per resampling path: worst alias/image rejection over a tone sweep, passband deviation, and added
  delay (step-response shift + output held back when fed 20 ms frames), for the core's
  ``Resampler``, ``audioop.ratecv`` (if importable) and ``soxr.ResampleStream`` at HQ.

The definitions of the quality figures are in ``patter_core/audio/analysis.py``. Targets (issue 3):
rejection >= 80 dB beyond 4.6 kHz (8 kHz output) / 9 kHz (16 kHz output), passband within +-0.5 dB,
added delay <= 5 ms, <= 30 us per 20 ms frame.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import tempfile
import timeit
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import soxr

if importlib.util.find_spec("patter_core") is None:  # run from a checkout without an install
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from patter_core.audio import (
    ALAW_8K,
    CANONICAL,
    L16_16K,
    MULAW_8K,
    PCM16_8K,
    PCM16_16K,
    PCM16_24K,
    AudioFormat,
    Converter,
    EnergyVAD,
    Framer,
    Pacer,
    PlaybackTracker,
    Resampler,
    StereoRecorder,
    alaw_decode,
    alaw_encode,
    alaw_to_ulaw,
    from_pcm16,
    ulaw_decode,
    ulaw_encode,
    ulaw_to_alaw,
)
from patter_core.audio.analysis import measure_delay, measure_quality

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # Python >= 3.13
        audioop = None  # type: ignore[assignment]

PAIRS = [
    (8000, 16000), (16000, 8000), (8000, 24000), (24000, 8000), (16000, 24000), (24000, 16000),
    (16000, 48000), (48000, 16000), (22050, 8000), (22050, 16000), (44100, 16000),
]  # fmt: skip

RESAMPLE_HEADER = [
    "path", "implementation", "us / frame", "rejection dB", "passband dev dB", "shift ms", "held ms",
    "added delay ms", "meets targets",
]  # fmt: skip

RNG = np.random.default_rng(0)


def speechish(n: int) -> np.ndarray:
    return np.clip(RNG.standard_normal(n) * 4000, -32768, 32767).astype(np.int16)


def per_call_us(fn: Callable[[], Any], number: int, repeat: int) -> float:
    for _ in range(min(number, 200)):  # warm-up (caches, lazy tables)
        fn()
    runs = timeit.Timer(fn).repeat(repeat=repeat, number=number)
    return statistics.median(runs) / number * 1e6


class AudioopStream:
    """``audioop.ratecv`` as a stream (what the reference SDK uses)."""

    def __init__(self, src: int, dst: int) -> None:
        self.src, self.dst = src, dst
        self.state: Any = None

    def process(self, pcm: np.ndarray) -> np.ndarray:
        out, self.state = audioop.ratecv(pcm.tobytes(), 2, 1, self.src, self.dst, self.state)
        return np.frombuffer(out, dtype=np.int16)


class SoxrStream:
    """``soxr.ResampleStream`` at HQ, fed int16 frames."""

    def __init__(self, src: int, dst: int) -> None:
        self.stream = soxr.ResampleStream(src, dst, 1, dtype="int16", quality="HQ")

    def process(self, pcm: np.ndarray) -> np.ndarray:
        return np.asarray(self.stream.resample_chunk(pcm), dtype=np.int16)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"Python {platform.python_version()}, numpy {np.__version__}, soxr {soxr.__version__}, "
        f"{cpu}, {os.cpu_count()} CPUs"
    )


def codec_rows(number: int, repeat: int) -> list[list[str]]:
    pcm = speechish(160)
    ulaw, alaw = ulaw_encode(pcm), alaw_encode(pcm)
    rows: list[tuple[str, float]] = [
        ("ulaw_encode (int16 -> mu-law)", per_call_us(lambda: ulaw_encode(pcm), number, repeat)),
        ("ulaw_decode (mu-law -> int16)", per_call_us(lambda: ulaw_decode(ulaw), number, repeat)),
        ("alaw_encode", per_call_us(lambda: alaw_encode(pcm), number, repeat)),
        ("alaw_decode", per_call_us(lambda: alaw_decode(alaw), number, repeat)),
        ("ulaw_to_alaw (bytes.translate)", per_call_us(lambda: ulaw_to_alaw(ulaw), number, repeat)),
        ("alaw_to_ulaw (bytes.translate)", per_call_us(lambda: alaw_to_ulaw(alaw), number, repeat)),
    ]
    if audioop is not None:
        raw = pcm.tobytes()
        rows += [
            ("audioop.lin2ulaw", per_call_us(lambda: audioop.lin2ulaw(raw, 2), number, repeat)),
            ("audioop.ulaw2lin", per_call_us(lambda: audioop.ulaw2lin(ulaw, 2), number, repeat)),
            ("audioop.lin2alaw", per_call_us(lambda: audioop.lin2alaw(raw, 2), number, repeat)),
            ("audioop.alaw2lin", per_call_us(lambda: audioop.alaw2lin(alaw, 2), number, repeat)),
        ]
    return [[name, f"{us:.2f}"] for name, us in rows]


def resample_rows(number: int, repeat: int, quick: bool) -> list[list[str]]:
    impls: list[tuple[str, Callable[[int, int], Any]]] = [("patter Resampler", Resampler)]
    if audioop is not None:
        impls.append(("audioop.ratecv", AudioopStream))
    impls.append(("soxr stream HQ", SoxrStream))
    rows: list[list[str]] = []
    for src, dst in PAIRS:
        for name, cls in impls:
            rows.append(resample_row(src, dst, name, cls, number=number, repeat=repeat, quick=quick))
    return rows


def resample_row(
    src: int, dst: int, name: str, cls: Callable[[int, int], Any], *, number: int, repeat: int, quick: bool
) -> list[str]:
    frame = speechish(src // 50)
    proc = cls(src, dst)
    us = per_call_us(lambda: proc.process(frame), number, repeat)
    quality = measure_quality(lambda: cls(src, dst), src, dst, tones=5 if quick else 9)
    delay = measure_delay(lambda: cls(src, dst), src, dst)
    ok = quality.rejection_db >= 80 and quality.passband_dev_db <= 0.5 and delay.added_ms <= 5 and us <= 30
    return [
        f"{src / 1000:g}k -> {dst / 1000:g}k",
        name,
        f"{us:.1f}",
        f"{quality.rejection_db:.1f}",
        f"{quality.passband_dev_db:.3f}",
        f"{delay.shift_ms:.2f}",
        f"{delay.lag_ms:.1f}",
        f"{delay.added_ms:.2f}",
        "yes" if ok else "no",
    ]


def chunk_frames(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def converter_rows(number: int, repeat: int) -> list[list[str]]:
    chains = [
        ("mu-law 8k -> PCM16 16k (carrier in)", MULAW_8K, CANONICAL),
        ("PCM16 16k -> mu-law 8k (carrier out)", CANONICAL, MULAW_8K),
        ("PCM16 24k -> mu-law 8k (24 kHz provider out)", PCM16_24K, MULAW_8K),
        ("mu-law 8k -> PCM16 24k (24 kHz provider in)", MULAW_8K, PCM16_24K),
        ("PCM16 24k -> PCM16 16k", PCM16_24K, PCM16_16K),
        ("L16 16k (big-endian) -> PCM16 16k", L16_16K, PCM16_16K),
        ("mu-law 8k -> A-law 8k", MULAW_8K, ALAW_8K),
        ("PCM16 8k -> PCM16 16k", PCM16_8K, PCM16_16K),
        ("mu-law 8k -> mu-law 8k (passthrough)", MULAW_8K, MULAW_8K),
    ]
    return [[name, f"{converter_us(src, dst, number, repeat):.1f}"] for name, src, dst in chains]


def converter_us(src: AudioFormat, dst: AudioFormat, number: int, repeat: int) -> float:
    conv = Converter(src, dst)
    frame = from_pcm16(speechish(src.sample_rate // 50), src)
    return per_call_us(lambda: conv.convert(frame), number, repeat)


def helper_rows(number: int, repeat: int) -> list[list[str]]:
    rows: list[tuple[str, float]] = []
    framer = Framer.for_format(MULAW_8K)
    odd = b"\xff" * 157
    rows.append(
        (
            "Framer.push (157-byte chunks into 160-byte frames)",
            per_call_us(lambda: framer.push(odd), number, repeat),
        )
    )
    vad = EnergyVAD().create_stream(16000)
    pcm = speechish(320)
    rows.append(
        ("EnergyVAD.process (20 ms at 16 kHz)", per_call_us(lambda: vad.process(pcm), number, repeat))
    )

    def fake_clock() -> float:
        return 0.0

    pacer = Pacer(clock=fake_clock)

    def pace() -> None:
        pacer.delay()
        pacer.sent()
        pacer.reset()

    rows.append(("Pacer.delay + sent + reset", per_call_us(pace, number, repeat)))
    tracker = PlaybackTracker()

    def track() -> None:
        tracker.audio_sent("r", 20)
        tracker.mark_acknowledged(tracker.place_mark("r"))

    rows.append(("PlaybackTracker audio_sent + place_mark + ack", per_call_us(track, number, repeat)))
    with tempfile.TemporaryDirectory() as tmp:
        rec = StereoRecorder(os.path.join(tmp, "bench.wav"), 16000)

        def record() -> None:
            rec.write_caller(pcm)
            rec.write_agent(pcm)

        rows.append(
            ("StereoRecorder caller + agent frame (incl. flushes)", per_call_us(record, number, repeat))
        )
        rec.close()
    return [[name, f"{us:.1f}"] for name, us in rows]


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations and tones")
    args = parser.parse_args(argv)
    number, repeat = (300, 3) if args.quick else (2000, 7)
    out = [
        f"Measured with `python bench/audio.py` on {machine()}.",
        "CPU figures are the median of several runs, in microseconds per 20 ms frame.",
        "",
        "### Codecs (one 20 ms frame, 160 samples)",
        "",
        table(["codec", "us / frame"], codec_rows(number * 5, repeat)),
        "",
        "### Resampling, fed 20 ms frames",
        "",
        "Rejection: worst alias/image level over a tone sweep (beyond 4.6 kHz for 8 kHz output, 9 kHz for",
        "16 kHz). Passband: worst gain deviation up to 3.4 / 7 kHz. Delay: step-response shift + output",
        "held back behind real time = added delay. Targets: >= 80 dB, <= 0.5 dB, <= 5 ms, <= 30 us.",
        "",
        table(RESAMPLE_HEADER, resample_rows(number, repeat, args.quick)),
        "",
        "### Format conversion chains (Converter, one 20 ms frame)",
        "",
        table(["chain", "us / frame"], converter_rows(number, repeat)),
        "",
        "### Per-frame helpers",
        "",
        table(["operation", "us / call"], helper_rows(number, repeat)),
    ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
