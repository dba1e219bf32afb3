"""EnergyVAD on synthetic speech-like signals, silence, low and loud noise."""

from __future__ import annotations

import numpy as np
import pytest

from patter_core.audio import EnergyVAD
from patter_core.interfaces.vad import VAD, VADEventType, VADStream

RATE = 16000


def speech_like(seconds: float, level_dbfs: float = -20.0, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Harmonics of a wobbling 120 Hz voice, amplitude-modulated at a 4 Hz syllable rate with gaps."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    f0 = 120 * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(k * phase + rng.uniform(0, 6)) / k for k in range(1, 25) if k * 120 < rate / 2 - 200)
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5  # 125 ms syllables, 125 ms gaps
    x = voice * envelope
    x *= 32768 * 10 ** (level_dbfs / 20) / np.sqrt(np.mean(x**2))
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def noise(seconds: float, level_dbfs: float, rate: int = RATE, seed: int = 1) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(round(seconds * rate)) * 32768 * 10 ** (level_dbfs / 20)
    return np.round(x).astype(np.int16)


def feed(stream: VADStream, x: np.ndarray, chunk: int = 320) -> list:  # type: ignore[type-arg]
    events = []
    for i in range(0, len(x), chunk):
        events += stream.process(x[i : i + chunk])
    return events


def test_implements_the_interface() -> None:
    vad = EnergyVAD()
    assert isinstance(vad, VAD)
    stream = vad.create_stream(16000)
    assert isinstance(stream, VADStream)
    assert not stream.speaking and stream.speech_ms == 0.0


@pytest.mark.parametrize("level", [None, -60.0, -50.0])
def test_silence_and_low_noise_produce_no_events(level: float | None) -> None:
    stream = EnergyVAD().create_stream(RATE)
    x = np.zeros(5 * RATE, dtype=np.int16) if level is None else noise(5, level)
    assert feed(stream, x) == []
    assert not stream.speaking


@pytest.mark.parametrize("rate", [8000, 16000, 24000])
def test_speech_then_silence(rate: int) -> None:
    stream = EnergyVAD().create_stream(rate)
    x = np.concatenate([np.zeros(rate // 2, np.int16), speech_like(1.5, rate=rate), np.zeros(rate, np.int16)])
    events = feed(stream, x, chunk=rate // 50)
    assert [e.type for e in events] == [VADEventType.SPEECH_START, VADEventType.SPEECH_END]
    start, end = events
    assert 500 <= start.at_ms <= 560  # onset of the first syllable (not when it was detected)
    assert 1860 <= end.at_ms <= 1950  # the last syllable ends at 1875 ms
    assert end.speech_ms == pytest.approx(end.at_ms - start.at_ms)
    assert not stream.speaking


def test_speech_ms_grows_while_speaking() -> None:
    stream = EnergyVAD().create_stream(RATE)
    feed(stream, speech_like(0.6))
    assert stream.speaking
    assert 450 <= stream.speech_ms <= 600


def test_events_do_not_depend_on_chunk_size() -> None:
    x = np.concatenate([noise(0.5, -55), speech_like(1.2) + noise(1.2, -55), noise(1.0, -55)])
    ref = feed(EnergyVAD().create_stream(RATE), x, chunk=320)
    rng = np.random.default_rng(3)
    stream = EnergyVAD().create_stream(RATE)
    events, i = [], 0
    while i < len(x):
        n = int(rng.integers(0, 999))
        events += stream.process(x[i : i + n])
        i += n
    assert events == ref and len(ref) == 2


def test_short_click_is_not_speech() -> None:
    stream = EnergyVAD(start_ms=60).create_stream(RATE)
    x = np.zeros(RATE, dtype=np.int16)
    x[8000 : 8000 + 480] = 20000  # 30 ms burst
    assert feed(stream, x) == []


def test_hysteresis_prevents_chattering() -> None:
    # 10 ms windows alternating between -33 dBFS (above on) and -39 dBFS (between off and on)
    stream = EnergyVAD(threshold_db=-35, hysteresis_db=6, adaptive=False).create_stream(RATE)
    a, b = noise(0.01, -33, seed=5), noise(0.01, -39, seed=6)
    x = np.concatenate([a, a, a, a, a, a, a] + [a, b] * 100)
    events = feed(stream, x, chunk=160)
    assert [e.type for e in events] == [VADEventType.SPEECH_START]
    assert stream.speaking


def test_adaptive_floor_follows_loud_steady_noise() -> None:
    vad = EnergyVAD(threshold_db=-35)
    stream = vad.create_stream(RATE)
    background = noise(6, -30)  # louder than the fixed threshold
    events = feed(stream, background)
    # may fire once before the floor is known, but must settle
    assert len(events) <= 2
    assert not stream.speaking
    assert stream.noise_floor_db == pytest.approx(-31, abs=2)
    assert feed(stream, noise(2, -30, seed=9)) == []
    loud = speech_like(1.0, level_dbfs=-12) + noise(1.0, -30, seed=10)
    assert [e.type for e in feed(stream, loud)] == [VADEventType.SPEECH_START]


def test_fixed_threshold_without_adaptation() -> None:
    stream = EnergyVAD(threshold_db=-35, adaptive=False).create_stream(RATE)
    assert [e.type for e in feed(stream, noise(1, -30))] == [VADEventType.SPEECH_START]
    assert stream.noise_floor_db == float("-inf")


def test_reset_forgets_speech() -> None:
    stream = EnergyVAD().create_stream(RATE)
    feed(stream, speech_like(0.5))
    assert stream.speaking
    stream.reset()
    assert not stream.speaking and stream.speech_ms == 0.0


def test_bad_input() -> None:
    stream = EnergyVAD().create_stream(RATE)
    assert stream.process(np.zeros(0, dtype=np.int16)) == []
    assert stream.process(np.zeros(7, dtype=np.int16)) == []  # shorter than a window: buffered
    with pytest.raises(TypeError, match="int16"):
        stream.process(np.zeros(160, dtype=np.float32))
    with pytest.raises(ValueError):
        EnergyVAD(threshold_db=5)
    with pytest.raises(ValueError):
        EnergyVAD().create_stream(0)
