"""WhisperStream's own bookkeeping, with a stand-in for the model (for tests only: it decodes
nothing); the real Whisper is heard in test_whisper.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, cast

import numpy as np
import pytest

from tests.stt.speech import RATE, silence
from tests.waiting import until
from voicewire.stt.decodepool import DecodePool
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
