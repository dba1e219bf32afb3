"""LocalVAD on real synthesised speech (over the phone path) versus silence, noise and call-progress tones."""

from __future__ import annotations

import numpy as np
import pytest
from patter_local import LocalVAD
from patter_local.testing import brown_noise, busy_tone, dtmf, ringback, tones, white_noise
from patter_local.vad import _POOL

from patter_core.audio import resample_offline
from patter_core.errors import ConfigurationError
from patter_core.interfaces.vad import VADEvent, VADEventType

RATES = [16000, 8000]


def _at(pcm16k: np.ndarray, rate: int) -> np.ndarray:
    return pcm16k if rate == 16000 else resample_offline(pcm16k, 16000, rate)


def _run(
    pcm: np.ndarray, rate: int, *, step: int | None = None, vad: LocalVAD | None = None
) -> list[VADEvent]:
    stream = (vad or LocalVAD()).create_stream(rate)
    step = step or rate // 50  # 20 ms frames, as the session feeds them
    events: list[VADEvent] = []
    try:
        for offset in range(0, pcm.size, step):
            events += stream.process(pcm[offset : offset + step])
    finally:
        stream.close()
    return events


def _voiced_span_ms(pcm: np.ndarray, rate: int) -> tuple[float, float]:
    """First and last 10 ms block whose energy is within 30 dB of the loudest: the ground truth."""
    block = rate // 100
    energy = np.array(
        [np.sqrt(np.mean(pcm[i : i + block].astype(float) ** 2)) for i in range(0, pcm.size - block, block)]
    )
    voiced = np.flatnonzero(energy > energy.max() * 0.03)
    return voiced[0] * 10.0, (voiced[-1] + 1) * 10.0


@pytest.mark.parametrize("rate", RATES)
def test_each_utterance_is_one_speech_run_with_accurate_edges(
    phone_audio: dict[str, list[np.ndarray]], rate: int
) -> None:
    lead, tail = 700, 1500
    for utterance in phone_audio["caller"] + phone_audio["agent"]:
        speech = _at(utterance, rate)
        pcm = np.concatenate(
            [np.zeros(rate * lead // 1000, np.int16), speech, np.zeros(rate * tail // 1000, np.int16)]
        )
        events = _run(pcm, rate)
        starts = [e for e in events if e.type is VADEventType.SPEECH_START]
        ends = [e for e in events if e.type is VADEventType.SPEECH_END]
        assert len(starts) == len(ends) >= 1
        first, last = _voiced_span_ms(speech, rate)
        # SPEECH_START marks where speech began, SPEECH_END where it ended (not where it was detected).
        assert abs(starts[0].at_ms - (lead + first)) <= 100
        assert abs(ends[-1].at_ms - (lead + last)) <= 160
        for start, end in zip(starts, ends, strict=True):
            assert end.speech_ms == pytest.approx(end.at_ms - start.at_ms)
        # runs split only at real pauses: together they cover nearly all of the utterance
        covered = sum(e.speech_ms for e in ends)
        assert covered >= 0.9 * (last - first)


@pytest.mark.parametrize("rate", RATES)
def test_speech_frames_are_detected(phone_audio: dict[str, list[np.ndarray]], rate: int) -> None:
    """>= 99 % of the loud 32 ms windows of real speech fall inside detected speech runs."""
    inside = total = 0
    window_ms = 32
    for utterance in phone_audio["caller"]:
        speech = _at(utterance, rate)
        pcm = np.concatenate([np.zeros(rate // 2, np.int16), speech, np.zeros(rate, np.int16)])
        events = _run(pcm, rate)
        runs = [(s.at_ms, e.at_ms) for s, e in zip(events[::2], events[1::2], strict=True)]
        n = rate * window_ms // 1000
        energy = np.array(
            [np.sqrt(np.mean(pcm[i : i + n].astype(float) ** 2)) for i in range(0, pcm.size - n, n)]
        )
        loud = np.flatnonzero(energy > energy.max() * 0.1)
        total += loud.size
        inside += sum(any(a <= i * window_ms < b for a, b in runs) for i in loud)
    assert inside / total >= 0.99


NOT_SPEECH = {
    "silence": lambda: np.zeros(16000 * 3, np.int16),
    "white noise": lambda: white_noise(4.0, level=0.1),
    "loud white noise": lambda: white_noise(4.0, level=0.4),
    "brown noise": lambda: brown_noise(4.0),
    "1 kHz tone": lambda: tones((1000,), 3.0),
    "ringback": lambda: ringback(6.0),
    "busy tone": lambda: busy_tone(3.0),
    "DTMF digits": lambda: dtmf("0123456789*#"),
    "long DTMF press": lambda: dtmf("5", tone_s=1.0),
}


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("name", list(NOT_SPEECH))
def test_noise_and_call_progress_tones_are_not_speech(name: str, rate: int) -> None:
    assert _run(_at(NOT_SPEECH[name](), rate), rate) == []


def test_results_do_not_depend_on_how_audio_is_chunked(phone_audio: dict[str, list[np.ndarray]]) -> None:
    pcm = np.concatenate([np.zeros(8000, np.int16), phone_audio["caller"][2], np.zeros(16000, np.int16)])
    by_frames = _run(pcm, 16000)
    assert by_frames
    assert _run(pcm, 16000, step=7) == by_frames
    assert _run(pcm, 16000, step=pcm.size) == by_frames


def test_speaking_state_and_speech_ms_follow_the_run(phone_audio: dict[str, list[np.ndarray]]) -> None:
    speech = phone_audio["caller"][0]
    stream = LocalVAD(end_ms=300).create_stream(16000)
    try:
        assert not stream.speaking and stream.speech_ms == 0
        stream.process(np.zeros(4800, np.int16))
        events = stream.process(speech[:16000])
        assert [e.type for e in events] == [VADEventType.SPEECH_START]
        assert stream.speaking
        assert stream.speech_ms == pytest.approx(stream.position_ms - events[0].at_ms)
        before = stream.speech_ms
        stream.process(speech[16000:24000])
        assert stream.speech_ms > before
        events = stream.process(speech[24000:]) + stream.process(np.zeros(16000, np.int16))
        assert [e.type for e in events] == [VADEventType.SPEECH_END]
        assert not stream.speaking and stream.speech_ms == 0
        # the end was detected end_ms after the last voiced audio
        assert stream.position_ms - events[0].at_ms >= 300
    finally:
        stream.close()


def test_reset_forgets_speech_but_keeps_the_clock(phone_audio: dict[str, list[np.ndarray]]) -> None:
    stream = LocalVAD().create_stream(16000)
    try:
        stream.process(phone_audio["caller"][0][:12000])
        assert stream.speaking
        clock = stream.position_ms
        stream.process(np.zeros(100, np.int16))  # a partial window is pending
        stream.reset()
        assert not stream.speaking and stream.speech_ms == 0
        assert stream.position_ms == pytest.approx(clock + 100 / 16)
        events = stream.process(phone_audio["caller"][1])
        assert events and events[0].type is VADEventType.SPEECH_START and events[0].at_ms >= clock
    finally:
        stream.close()


def test_detectors_are_pooled_and_streams_are_independent(phone_audio: dict[str, list[np.ndarray]]) -> None:
    vad = LocalVAD()
    first = vad.create_stream(16000)
    first.close()
    first.close()  # idempotent
    created = _POOL.created
    a, b = vad.create_stream(16000), vad.create_stream(16000)
    try:
        assert _POOL.created <= created + 1  # one came back from the pool
        a.process(phone_audio["caller"][0][:12000])
        assert a.speaking and not b.speaking
        assert b.process(np.zeros(16000, np.int16)) == []
    finally:
        a.close()
        b.close()
    with pytest.raises(RuntimeError, match="closed"):
        a.process(np.zeros(512, np.int16))


def test_configuration_is_validated() -> None:
    assert LocalVAD().capabilities.sample_rates == (16000, 8000)
    with pytest.raises(ConfigurationError, match="8000 or 16000"):
        LocalVAD().create_stream(44100)
    with pytest.raises(ConfigurationError, match="end_threshold"):
        LocalVAD(start_threshold=0.3, end_threshold=0.5)
    with pytest.raises(ConfigurationError, match="end_ms"):
        LocalVAD(end_ms=0)


@pytest.mark.parametrize("snr_db", [20, 10])
def test_speech_in_noise_is_still_one_run(phone_audio: dict[str, list[np.ndarray]], snr_db: int) -> None:
    for index, utterance in enumerate(phone_audio["caller"][:5]):
        pcm = np.concatenate([np.zeros(11200), utterance.astype(float), np.zeros(24000)])
        voiced = utterance[np.abs(utterance) > 100].astype(float)
        noise = white_noise(pcm.size / 16000 + 0.1, seed=index).astype(float)[: pcm.size]
        noise *= np.sqrt(np.mean(voiced**2)) / np.sqrt(np.mean(noise**2)) / 10 ** (snr_db / 20)
        events = _run(np.clip(pcm + noise, -32768, 32767).astype(np.int16), 16000)
        assert [e.type for e in events] == [VADEventType.SPEECH_START, VADEventType.SPEECH_END]
        first, last = _voiced_span_ms(utterance, 16000)
        assert events[1].speech_ms >= 0.85 * (last - first)
