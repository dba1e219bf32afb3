"""The core's contract suites for each provider kind, run against this plugin's fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest
from patter_openai import OpenAILLM, OpenAIRealtime, OpenAITTS, WhisperSTT
from patter_openai.testing import FakeOpenAIHTTP, FakeRealtimeServer

from patter_core.testing.contracts import EngineContract, LLMContract, STTContract, TTSContract

KEY = "sk-test-key"


class TestRealtimeContract(EngineContract):
    @pytest.fixture
    async def engine(self) -> AsyncIterator[OpenAIRealtime]:
        async with FakeRealtimeServer(api_key=KEY, pace=0) as fake:
            yield OpenAIRealtime(api_key=KEY, base_url=fake.base_url, connect_timeout=5)


class TestLLMContract(LLMContract):
    @pytest.fixture
    async def llm(self, fake_http: FakeOpenAIHTTP) -> AsyncIterator[OpenAILLM]:
        llm = OpenAILLM(api_key=KEY, base_url=fake_http.base_url)
        yield llm
        await llm.aclose()


class TestTTSContract(TTSContract):
    @pytest.fixture
    async def tts(self, fake_http: FakeOpenAIHTTP) -> AsyncIterator[OpenAITTS]:
        tts = OpenAITTS(api_key=KEY, base_url=fake_http.base_url)
        yield tts
        await tts.aclose()


class TestWhisperContract(STTContract):
    @pytest.fixture
    async def stt(self, fake_http: FakeOpenAIHTTP) -> AsyncIterator[WhisperSTT]:
        fake_http.transcripts.extend(["hello there"] * 4)
        stt = WhisperSTT(api_key=KEY, base_url=fake_http.base_url)
        yield stt
        await stt.aclose()

    @pytest.fixture
    def speech(self) -> bytes:
        t = np.arange(8000) / 16000  # 500 ms at 16 kHz, the first declared format
        return (np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2").tobytes()
