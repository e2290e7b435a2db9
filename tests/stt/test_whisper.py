"""WhisperSTT (tiny.en from its package) on Piper's voice: interim transcripts, speculation at
a pause, the pool's bounds, silence trimming. Timings belong to `voicewire bench stt`."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

from tests.stt.speech import CHUNK, RATE, assert_heard_the_question, pieces, silence
from voicewire import stt as stt_package
from voicewire.stt import STTError, build_stt, default_stt
from voicewire.stt.whisper import WhisperSTT, split_long, trim_silence


@pytest.fixture
def blocked(whisper: WhisperSTT) -> Iterator[threading.Event]:
    """The engine's only worker is busy until the event is set."""
    release = threading.Event()
    whisper.pool.submit(release.wait)
    yield release
    release.set()


async def test_interim_transcripts_come_while_the_user_speaks(
    whisper: WhisperSTT, question_16k: bytes
) -> None:
    whisper.interim_s = 0.5
    try:
        stream = whisper.stream(sample_rate=RATE)
        partials = []
        for piece in pieces(question_16k, CHUNK):
            heard = await stream.feed(piece)
            if heard is not None:
                assert not heard.final
                partials.append(heard.text)
            await stream.settle()  # a live speaker is slower than this loop
        final = await stream.finish()
    finally:
        whisper.interim_s = 0.0
    assert_heard_the_question(final)
    assert len(partials) >= 2
    assert "weather" in partials[-1].lower()


async def test_no_interim_decode_is_queued_while_the_pool_is_busy(
    whisper: WhisperSTT, question_16k: bytes, blocked: threading.Event
) -> None:
    whisper.interim_s = 0.5
    try:
        stream = whisper.stream(sample_rate=RATE)
        skipped = whisper.pool.skipped
        for piece in pieces(question_16k, CHUNK):
            assert await stream.feed(piece) is None
        assert stream.decodes == 0
        assert whisper.pool.skipped > skipped
        blocked.set()
        assert_heard_the_question(await stream.finish())
    finally:
        whisper.interim_s = 0.0


async def test_a_final_that_cannot_get_a_worker_in_time_is_an_stt_error(
    whisper: WhisperSTT, question_16k: bytes, blocked: threading.Event
) -> None:
    whisper.final_wait_s = 0.05
    try:
        stream = whisper.stream(sample_rate=RATE)
        await stream.feed(question_16k)
        with pytest.raises(STTError, match="too busy"):
            await stream.finish()
    finally:
        whisper.final_wait_s = 10.0


async def test_the_decode_begun_at_the_pause_is_the_final_transcript(
    whisper: WhisperSTT, question_16k: bytes
) -> None:
    stream = whisper.stream(sample_rate=RATE)
    await stream.feed(question_16k)
    stream.pause(True)
    await stream.feed(silence(0.5))  # the rest of the silence window
    assert_heard_the_question(await stream.finish())
    assert stream.decodes == 1


async def test_voice_after_the_pause_drops_the_speculative_decode(
    whisper: WhisperSTT, question_16k: bytes
) -> None:
    stream = whisper.stream(sample_rate=RATE)
    await stream.feed(question_16k)
    stream.pause(True)
    stream.pause(False)
    await stream.feed(question_16k)
    final = await stream.finish()
    assert final.text.lower().count("weather") == 2
    assert not stream.speculating


async def test_a_closed_engine_fails_its_streams_with_an_stt_error(question_16k: bytes) -> None:
    engine = WhisperSTT(interim_s=0.0)
    stream = engine.stream(sample_rate=RATE)
    await stream.feed(question_16k)
    engine.close()
    with pytest.raises(STTError, match="closed"):
        await stream.finish()


def test_trimming_keeps_the_voice_and_a_margin_around_it() -> None:
    voice = (0.3 * np.sin(np.arange(RATE) * 0.05)).astype(np.float32)
    quiet = np.zeros(RATE, dtype=np.float32)
    trimmed = trim_silence(np.concatenate([quiet, voice, quiet]))
    assert len(trimmed) == RATE + 2 * int(0.3 * RATE)
    assert trim_silence(quiet).size == 0


def test_long_audio_is_decoded_in_pieces_of_at_most_28_s_cut_where_it_is_quiet() -> None:
    rng = np.random.default_rng(0)
    loud = lambda s: (0.3 * rng.standard_normal(int(s * RATE))).astype(np.float32)  # noqa: E731
    audio = np.concatenate([loud(25), np.zeros(RATE // 5, dtype=np.float32), loud(20)])
    first, second = split_long(audio)
    assert len(first) + len(second) == len(audio)
    assert 25 * RATE <= len(first) <= 25 * RATE + RATE // 5


def test_auto_is_whisper_when_it_is_installed_and_pocketsphinx_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert default_stt() == "whisper"
    monkeypatch.setattr(stt_package, "_WHISPER_PACKAGES", ("no_such_package_here",))
    assert default_stt() == "pocketsphinx"


def test_a_missing_whisper_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        stt_package._ENGINES, "whisper", ("no_such_module_here", "X", "'voicewire[whisper]'")
    )
    with pytest.raises(STTError, match=r"pip install 'voicewire\[whisper\]'"):
        build_stt("whisper")
