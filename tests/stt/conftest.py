"""Shared audio: Piper (joe-us voice) saying one question, synthesized once per test session."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.stt.speech import RATE, resample, silence
from voicewire.bench.stt import QUESTION
from voicewire.stt.pocketsphinx import PocketsphinxSTT
from voicewire.tts.piper import PiperTTS


@pytest.fixture(scope="session")
def spoken() -> tuple[bytes, int]:
    """The question as Piper speaks it, at Piper's own rate (22050 Hz), unpadded."""

    async def speak() -> tuple[bytes, int]:
        tts = PiperTTS()
        try:
            pcm = b"".join([chunk.pcm async for chunk in tts.synthesize(QUESTION)])
        finally:
            tts.close()
        return pcm, tts.sample_rate

    return asyncio.run(speak())


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
