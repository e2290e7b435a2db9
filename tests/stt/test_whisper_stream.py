"""WhisperStream's own bookkeeping, with a stand-in for the model (for tests only: it decodes
nothing); the real Whisper is heard in test_whisper.py."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any, cast

import numpy as np
import pytest

from tests.stt.fake import Heard
from tests.stt.speech import CHUNK, RATE, pieces, silence
from tests.waiting import until
from voicewire.stt import utterances
from voicewire.stt.decodepool import DecodePool
from voicewire.stt.utterances import VoiceInput
from voicewire.stt.whisper_stream import WhisperStream


class FailsFirst:
    """A stand-in for WhisperSTT whose first decode fails and whose others hear "hello"."""

    sample_rate = RATE
    interim_s = 0.0
    final_wait_s = 60.0

    def __init__(self) -> None:
        self.pool = DecodePool(1, name="test")
        self.decodes = 0

    def transcribe(self, audio: np.ndarray) -> str:
        self.decodes += 1
        if self.decodes == 1:
            raise RuntimeError("std::bad_alloc")
        return "hello"


@pytest.fixture
def engine() -> Iterator[FailsFirst]:
    engine = FailsFirst()
    yield engine
    engine.pool.close()


async def test_a_decode_at_the_pause_that_failed_is_logged_once_and_the_final_decodes_again(
    engine: FailsFirst, caplog: pytest.LogCaptureFixture
) -> None:
    stream = WhisperStream(cast(Any, engine), RATE)
    await stream.feed(silence(1.0))
    stream.pause(True)
    await until(lambda: engine.decodes == 1 and engine.pool.pending == 0, "the decode to fail")
    with caplog.at_level(logging.WARNING, logger="voicewire.stt.whisper_stream"):
        for _ in range(10):  # the silence window runs out: 50 frames a second
            assert await stream.feed(silence(0.02)) is None
    assert len(caplog.records) == 1 and "bad_alloc" in caplog.records[0].getMessage()
    final = await stream.finish()  # not the failed speculation: the utterance is decoded again
    assert final.text == "hello" and final.final
    assert engine.decodes == 2


class Counts:
    """A stand-in for WhisperSTT (tests only) that "hears" how many samples it was given, so a
    transcript says how much of the utterance it covers."""

    name = "counts"
    sample_rate = RATE
    interim_s = 0.0
    final_wait_s = 60.0

    def __init__(self, workers: int = 1) -> None:
        self.pool = DecodePool(workers, name="test")

    def stream(self, *, sample_rate: int) -> WhisperStream:
        return WhisperStream(cast(Any, self), sample_rate)

    def transcribe(self, audio: np.ndarray) -> str:
        return f"{len(audio)} samples"


def noise(seconds: float, level: float) -> bytes:
    """Deterministic noise of RMS `level` (full scale 32768)."""
    samples = np.random.default_rng(7).normal(0.0, level, int(seconds * RATE))
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


async def test_push_to_talk_transcribes_soft_speech_after_a_pause_the_vad_did_not_hear(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The energy detector stands in for Silero: loud noise is voice to it, -50 dBFS is not;
    # Whisper may still hear words there (soft speech), so the final must cover them.
    monkeypatch.setattr(utterances, "vad_backend", lambda rate: "energy")
    engine, heard = Counts(), Heard()
    voice = VoiceInput(
        cast(Any, engine),
        sample_rate=RATE,
        end_by_vad=False,
        on_speech=heard.speech,
        on_transcript=heard.transcript,
    )
    audio = noise(0.6, 8000.0) + silence(0.4) + noise(0.6, 100.0)
    for piece in pieces(audio, CHUNK):
        await voice.feed(piece)
    await voice.finish()  # input_audio.stop
    assert heard.finals() == [f"{len(audio) // 2} samples"]
    engine.pool.close()


class FirstHeldBack(Counts):
    """`Counts` with two workers, whose decode of the first 0.5 s finishes only when `release`
    is set."""

    interim_s = 0.5

    def __init__(self) -> None:
        super().__init__(workers=2)
        self.release = threading.Event()
        self.calls = 0

    def transcribe(self, audio: np.ndarray) -> str:
        self.calls += 1
        if len(audio) == RATE // 2:
            self.release.wait()
        return super().transcribe(audio)


@pytest.fixture
def held_back() -> Iterator[FirstHeldBack]:
    engine = FirstHeldBack()
    yield engine
    engine.release.set()
    engine.pool.close()


async def test_an_interim_decode_that_finishes_after_a_newer_one_is_not_shown(
    held_back: FirstHeldBack,
) -> None:
    engine = held_back
    stream = engine.stream(sample_rate=RATE)
    assert await stream.feed(silence(0.5)) is None  # an interim decode of 0.5 s starts
    await stream.feed(silence(0.3))
    stream.pause(True)  # a decode of all 0.8 s, on the other worker
    await until(lambda: engine.calls == 2 and engine.pool.pending == 1, "the newer decode")
    newer = await stream.feed(silence(0.02))
    assert newer is not None and newer.text == f"{int(0.8 * RATE)} samples"
    stream.pause(False)  # the voice comes back: that decode is no longer the final
    engine.release.set()
    await until(lambda: engine.pool.pending == 0, "the older decode")
    assert await stream.feed(silence(0.02)) is None  # not "8000 samples": a step back
