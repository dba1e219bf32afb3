"""LocalSTT: accuracy over the telephone path, the stream interface, and configuration errors."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from patter_local import LocalSTT, LocalVAD
from patter_local.testing import AGENT_LINES, CALLER_LINES, word_error_rate

from patter_core.audio.format import MULAW_8K, PCM16_16K
from patter_core.errors import ConfigurationError
from patter_core.interfaces.stt import STTConfig, Transcript


@pytest.fixture(scope="module")
def stt() -> LocalSTT:
    recogniser = LocalSTT()
    recogniser.load()
    return recogniser


@pytest.mark.parametrize("voice", ["caller", "agent"])
def test_wer_over_the_mulaw_phone_path_is_at_most_25_percent(
    stt: LocalSTT, phone_audio: dict[str, list[np.ndarray]], voice: str
) -> None:
    lines = CALLER_LINES if voice == "caller" else AGENT_LINES
    errors = total = 0
    heard = []
    for text, pcm in zip(lines, phone_audio[voice], strict=True):
        hypothesis = stt.transcribe_sync(pcm.tobytes())
        e, n = word_error_rate(text, hypothesis)
        errors, total = errors + e, total + n
        heard.append((text, hypothesis))
    assert len(lines) >= 8
    assert errors / total <= 0.25, heard


async def test_transcribe_runs_off_the_event_loop(
    stt: LocalSTT, phone_audio: dict[str, list[np.ndarray]]
) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        text = await stt.transcribe(phone_audio["caller"][1].tobytes(), PCM16_16K)
    finally:
        task.cancel()
    assert "tuesday" in text.lower()
    assert ticks >= 3  # the loop kept running while the model worked


async def test_stream_driven_by_the_local_vad_gives_one_final_transcript(
    stt: LocalSTT, phone_audio: dict[str, list[np.ndarray]]
) -> None:
    """The pipeline's shape: VAD start/end around 20 ms frames drive the buffered STT stream."""
    pcm = np.concatenate([np.zeros(8000, np.int16), phone_audio["caller"][0], np.zeros(16000, np.int16)])
    vad = LocalVAD().create_stream(16000)
    stream = await stt.open_stream(STTConfig(format=PCM16_16K, language="en-US"))
    try:
        for offset in range(0, pcm.size, 320):
            frame = pcm[offset : offset + 320]
            await stream.push_audio(frame.tobytes())
            for event in vad.process(frame):
                if event.type == "speech_start":
                    await stream.start_of_speech()
                else:
                    await stream.end_of_speech()
        events = stream.events()
        transcript = await asyncio.wait_for(anext(events), timeout=30)
    finally:
        await stream.aclose()
        vad.close()
    assert isinstance(transcript, Transcript)
    assert transcript.final and transcript.end_of_utterance
    errors, total = word_error_rate(CALLER_LINES[0], transcript.text)
    assert errors / total <= 0.25, transcript.text


async def test_very_short_audio_is_not_sent_to_the_model(stt: LocalSTT) -> None:
    assert await stt.transcribe(b"\x00\x00" * 800, PCM16_16K) == ""


async def test_only_english_pcm16_16k_is_accepted() -> None:
    stt = LocalSTT()
    assert stt.capabilities.input_formats == (PCM16_16K,)
    with pytest.raises(ConfigurationError, match="English only"):
        await stt.open_stream(STTConfig(format=PCM16_16K, language="fr"))
    with pytest.raises(ConfigurationError, match="pcm16/16000"):
        await stt.open_stream(STTConfig(format=MULAW_8K))


def test_bad_options_fail_early(tmp_path: object) -> None:
    with pytest.raises(ConfigurationError, match="beam_size"):
        LocalSTT(beam_size=0)
    with pytest.raises(ConfigurationError, match=r"no model\.bin"):
        LocalSTT(model_dir=str(tmp_path))


async def test_concurrent_calls_share_the_model_safely(
    stt: LocalSTT, phone_audio: dict[str, list[np.ndarray]]
) -> None:
    clips = [pcm.tobytes() for pcm in phone_audio["caller"][:4]]
    alone = [stt.transcribe_sync(clip) for clip in clips]
    together = await asyncio.gather(*(stt.transcribe(clip, PCM16_16K) for clip in clips))
    assert list(together) == alone
