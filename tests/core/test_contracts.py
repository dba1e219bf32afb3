"""The contract suites run against the core's own fakes and energy VAD (and must pass)."""

from __future__ import annotations

import pytest

from patter_core.audio import EnergyVAD
from patter_core.testing import FakeEngine, FakeLLM, FakeSTT, FakeTTS, FakeVAD, voice
from patter_core.testing.contracts import EngineContract, LLMContract, STTContract, TTSContract, VADContract


class TestFakeTTS(TTSContract):
    @pytest.fixture
    def tts(self) -> FakeTTS:
        return FakeTTS()


class TestFakeSTT(STTContract):
    @pytest.fixture
    def stt(self) -> FakeSTT:
        return FakeSTT(["hello there"] * 5)

    @pytest.fixture
    def speech(self, stt: FakeSTT) -> bytes:
        return voice(500, stt.capabilities.input_formats[0])


class TestFakeLLM(LLMContract):
    @pytest.fixture
    def llm(self) -> FakeLLM:
        return FakeLLM(
            responder=lambda messages, tools: ["Hello there, this is a longer reply for cancelling."]
        )


class TestFakeEngine(EngineContract):
    @pytest.fixture
    def engine(self) -> FakeEngine:
        return FakeEngine()


class TestEnergyVAD(VADContract):
    @pytest.fixture
    def vad(self) -> EnergyVAD:
        return EnergyVAD()


class TestFakeVAD(VADContract):
    @pytest.fixture
    def vad(self) -> FakeVAD:
        return FakeVAD()
