"""Word timings of a Piper sentence, from its phonemes' durations (as Piper's alignments give).

espeak's words are the groups of voiced phonemes between word separators; when they do not match
the text's words 1:1 (numbers, abbreviations espeak expands or merges), the words are spread over
the voiced audio by character length.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from voicewire.tts.base import WordSpan

_SILENT = frozenset({"^", "$", "_", " "})  # BOS, EOS, PAD and the word separator

Interval = tuple[int, int]


def word_groups(phonemes: Iterable[tuple[str, int]]) -> list[Interval]:
    """Sample intervals of the words espeak spoke, skipping pauses (punctuation, BOS/EOS)."""
    groups: list[Interval] = []
    pos = 0
    start: int | None = None
    end = 0
    for phoneme, samples in phonemes:
        if phoneme == " " and start is not None:
            groups.append((start, end))
            start = None
        elif phoneme not in _SILENT and not unicodedata.category(phoneme[0]).startswith("P"):
            start = pos if start is None else start
            end = pos + samples
        pos += samples
    if start is not None:
        groups.append((start, end))
    return groups


def spread(first: int, words: Sequence[str], intervals: Sequence[Interval]) -> list[WordSpan]:
    """Lay `words` over `intervals` (concatenated) in proportion to their character lengths."""
    total = sum(e - s for s, e in intervals)
    chars = sum(len(w) for w in words)

    def at(pos: int, *, starting: bool) -> int:
        # A boundary that falls between two intervals starts the next one but ends the previous.
        for s, e in intervals:
            if pos < e - s or (not starting and pos == e - s):
                return s + pos
            pos -= e - s
        return intervals[-1][1] if intervals else 0

    spans, done = [], 0
    for i, word in enumerate(words):
        a = total * done // chars
        done += len(word)
        b = total * done // chars
        start = at(a, starting=True)
        spans.append(WordSpan(first + i, start, max(start, at(b, starting=False))))
    return spans


def alignments(
    phonemes: Sequence[str], ids: Sequence[int], id_samples: np.ndarray, id_map: dict[str, Any]
) -> list[tuple[str, int]]:
    """(phoneme, samples) for BOS, each phoneme with the PAD after it, EOS — as Piper aligns."""
    pad = list(id_map.get("_", []))
    out: list[tuple[str, int]] = []
    i = 0
    if len(id_samples) != len(ids):
        return []
    for phoneme in ("^", *phonemes, "$"):
        expected = list(id_map.get(phoneme, [])) + (pad if phoneme != "$" else [])
        if list(ids[i : i + len(expected)]) != expected:
            return []  # a phoneme the voice does not know: no alignment, as in Piper
        out.append((phoneme, int(id_samples[i : i + len(expected)].sum())))
        i += len(expected)
    return out
