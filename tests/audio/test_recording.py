"""StereoRecorder: alignment on the call clock, bounded memory, valid WAV after an abrupt stop."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest

from patter_core.audio import StereoRecorder

RATE = 16000


def read_wav(path: Path) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(str(path), "rb") as w:
        params = w.getparams()
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    return params, frames


def ramp(n: int, start: int = 1) -> np.ndarray:
    return (np.arange(n) % 30000 + start).astype(np.int16)


def test_channels_are_aligned_on_the_call_clock(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    caller = ramp(RATE)
    agent = -ramp(RATE // 2)
    with StereoRecorder(path, RATE) as rec:
        for i in range(0, RATE, 320):
            rec.write_caller(caller[i : i + 320])  # consecutive, at_ms=None
        rec.write_agent(agent, at_ms=250)
    params, frames = read_wav(path)
    assert (params.nchannels, params.sampwidth, params.framerate) == (2, 2, RATE)
    assert len(frames) == RATE
    np.testing.assert_array_equal(frames[:, 0], caller)
    assert not frames[:4000, 1].any()
    np.testing.assert_array_equal(frames[4000:12000, 1], agent)
    assert not frames[12000:, 1].any()


def test_valid_wav_while_open_without_close(tmp_path: Path) -> None:
    path = tmp_path / "open.wav"
    rec = StereoRecorder(path, RATE)
    _, frames = read_wav(path)
    assert len(frames) == 0  # valid (empty) from the start
    for i in range(150):  # 3 s of 20 ms frames on both channels
        rec.write_caller(ramp(320, start=i))
        rec.write_agent(ramp(320, start=-i - 320), at_ms=i * 20)
    _, frames = read_wav(path)
    assert 3 * RATE - 1600 <= len(frames) <= 3 * RATE
    np.testing.assert_array_equal(frames[:320, 0], ramp(320, start=0))
    rec.close()
    rec.close()  # idempotent
    assert rec.closed
    rec.write_caller(ramp(320))  # ignored after close
    assert len(read_wav(path)[1]) == 3 * RATE


def test_valid_wav_after_the_process_dies(tmp_path: Path) -> None:
    path = tmp_path / "killed.wav"
    script = textwrap.dedent(
        f"""
        import os
        import numpy as np
        from patter_core.audio import StereoRecorder
        rec = StereoRecorder({str(path)!r}, {RATE})
        for i in range(100):
            rec.write_caller(np.full(320, 1000, dtype=np.int16))
            rec.write_agent(np.full(320, -1000, dtype=np.int16))
        os._exit(0)  # no close(), no finalizers
        """
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=60)
    params, frames = read_wav(path)
    assert params.nchannels == 2
    assert 2 * RATE - 1600 <= len(frames) <= 2 * RATE
    assert (frames[:, 0] == 1000).all() and (frames[:, 1] == -1000).all()


def test_lagging_channel_is_padded_and_memory_stays_bounded(tmp_path: Path) -> None:
    path = tmp_path / "lag.wav"
    rec = StereoRecorder(path, RATE, max_lag_ms=1000, flush_ms=100)
    for _ in range(250):  # 5 s of caller audio, no agent audio at all
        rec.write_caller(ramp(320))
        assert max(len(p) for p in rec._pending) <= RATE + 1600 + 320
    assert rec.duration_ms >= 3900
    rec.write_agent(np.full(320, 7, dtype=np.int16))  # None: starts at the end of what is on disk
    rec.close()
    _, frames = read_wav(path)
    assert len(frames) == 5 * RATE
    on_disk_at = int(np.flatnonzero(frames[:, 1])[0])
    assert 3 * RATE <= on_disk_at <= 4 * RATE


def test_later_audio_wins_and_clear_agent(tmp_path: Path) -> None:
    path = tmp_path / "clear.wav"
    rec = StereoRecorder(path, RATE)
    rec.write_agent(np.full(RATE, 5, dtype=np.int16), at_ms=0)  # 1 s scheduled ahead by the pacer
    rec.clear_agent(at_ms=400)  # barge-in: heard up to 400 ms
    rec.write_agent(np.full(1600, 9, dtype=np.int16), at_ms=600)  # next response
    rec.write_agent(np.full(160, 3, dtype=np.int16), at_ms=600)  # overlaps: replaces the start
    rec.write_caller(np.full(RATE, 1, dtype=np.int16), at_ms=0)
    rec.close()
    _, frames = read_wav(path)
    right = frames[:, 1]
    assert (right[:6400] == 5).all()
    assert not right[6400:9600].any()
    assert (right[9600:9760] == 3).all() and (right[9760:11200] == 9).all()
    assert len(frames) == RATE


def test_audio_before_what_is_on_disk_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "late.wav"
    rec = StereoRecorder(path, RATE, flush_ms=100)
    rec.write_caller(np.full(RATE, 1, dtype=np.int16), at_ms=0)
    rec.write_agent(np.full(RATE, 2, dtype=np.int16), at_ms=0)
    rec.write_agent(np.full(3200, 4, dtype=np.int16), at_ms=900)  # 900..1100 ms: 900..1000 on disk
    rec.close()
    _, frames = read_wav(path)
    assert len(frames) == RATE + 1600
    assert (frames[RATE:, 1] == 4).all()
    assert (frames[14400:RATE, 1] == 2).all()


def test_negative_at_ms_is_clamped_and_bytes_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "neg.wav"
    with StereoRecorder(path, RATE) as rec:
        rec.write_caller(np.full(320, 3, dtype=np.int16).tobytes(), at_ms=-10)
    _, frames = read_wav(path)
    assert len(frames) == 160 and (frames[:, 0] == 3).all()


def test_bad_input(tmp_path: Path) -> None:
    rec = StereoRecorder(tmp_path / "bad.wav", RATE)
    with pytest.raises(TypeError, match="int16"):
        rec.write_caller(np.zeros(320, dtype=np.float32))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mono"):
        rec.write_agent(np.zeros((320, 2), dtype=np.int16))
    with pytest.raises(ValueError, match="odd"):
        rec.write_agent(b"\x00")
    rec.write_caller(np.zeros(0, dtype=np.int16))
    rec.close()
    with pytest.raises(ValueError):
        StereoRecorder(tmp_path / "x.wav", 0)


def test_a_jump_far_ahead_keeps_memory_bounded(tmp_path: Path) -> None:
    path = tmp_path / "jump.wav"
    rec = StereoRecorder(path, 8000)
    rec.write_caller(np.full(160, 1, dtype=np.int16))
    rec.write_agent(np.full(160, 2, dtype=np.int16), at_ms=60_000)  # one minute later
    assert max(len(p) for p in rec._pending) <= 8000 + 160
    rec.write_agent(np.full(80_000, 3, dtype=np.int16))  # a single 10 s chunk is kept whole
    rec.close()
    _, frames = read_wav(path)
    assert len(frames) == 8000 * 60 + 160 + 80_000
    assert (frames[:160, 0] == 1).all() and not frames[160:, 0].any()
    assert (frames[480_000:480_160, 1] == 2).all() and (frames[480_160:, 1] == 3).all()
