"""Shared audio: Piper (joe-us voice) saying one question, synthesized once per test session;
and the engines, each loaded once per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stt.speech import RATE, resample, silence
from voicewire.bench.stt import spoken_question
from voicewire.stt.pocketsphinx import PocketsphinxSTT
from voicewire.stt.whisper import WhisperSTT


@pytest.fixture(scope="session")
def spoken() -> tuple[bytes, int]:
    """The question as Piper speaks it, at Piper's own rate (22050 Hz), unpadded; without the
    voice's random noise, so every run hears the same audio."""
    return spoken_question()


@pytest.fixture(scope="session")
def question_16k(spoken: tuple[bytes, int]) -> bytes:
    """The question at 16 kHz with 0.5 s of silence on each side."""
    pcm, rate = spoken
    return silence(0.5) + resample(pcm, rate, RATE) + silence(0.5)


@pytest.fixture(scope="session")
def stt() -> Iterator[PocketsphinxSTT]:
    engine = PocketsphinxSTT()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def whisper() -> Iterator[WhisperSTT]:
    """Whisper tiny.en, loaded once (~1 s); no interim decodes unless a test asks for them."""
    engine = WhisperSTT(interim_s=0.0)
    yield engine
    engine.close()
