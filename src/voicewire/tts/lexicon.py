"""A deployment's pronunciation lexicon: written word → what the voice reads instead.

A replacement is plain text ("nginx" → "engine x") or Piper phonemes in double brackets
("voicewire" → "[[vˈɔɪswaɪɚ]]", read as they are, bypassing espeak). It is applied to each
segment's speech just before synthesis, and only there: the segment's `text` and `speech`
and its word timings still name the written words. The TTS times the words of the text it
was given; `Spoken.chunk` maps those back, so "engine x" is one timed word, "nginx", that
lasts from the start of "engine" to the end of "x".

The file (`VOICEWIRE_LEXICON`) is TOML: top-level keys apply to every voice; a table named
after a language ("de", "en-GB") applies to the voices of that language (a voice of "de-DE"
uses "de" and "de-DE", the more precise winning) and wins over the top level:

    nginx = "engine x"
    voicewire = "[[vˈɔɪswaɪɚ]]"

    [de]
    nginx = "Engine X"

Words match whole and case-insensitively, with the punctuation around them kept ("nginx,"
becomes "engine x,").
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicewire.errors import ConfigError
from voicewire.tts.base import SpeechChunk, WordSpan

_TOKEN = re.compile(r"\S+")
# A token is: leading punctuation, the word, trailing punctuation.
_WORD = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)
_PHONEMES = re.compile(r"^\[\[\s*(.*?)\s*\]\]$", re.DOTALL)


class LexiconError(ConfigError, ValueError):
    """The lexicon file is unusable; the message says where."""


def _entry(word: str, replacement: Any, where: str) -> tuple[str, str]:
    if not isinstance(replacement, str) or not replacement.split():
        raise LexiconError(f"{where}{word!r}: the replacement must be a non-empty string")
    if len(word.split()) != 1:
        raise LexiconError(f"{where}{word!r}: an entry is one word (no spaces)")
    phonemes = _PHONEMES.match(replacement.strip())
    # "[[ a b ]]" → "[[a b]]": Piper reads the brackets' content as phonemes, spaces as word breaks.
    text = f"[[{phonemes.group(1)}]]" if phonemes else " ".join(replacement.split())
    return word.casefold(), text


@dataclass(frozen=True)
class Lexicon:
    words: dict[str, str] = field(default_factory=dict)
    languages: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise LexiconError(f"cannot read the lexicon {path}: {exc}") from exc
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lexicon:
        words: dict[str, str] = {}
        languages: dict[str, dict[str, str]] = {}
        for key, value in data.items():
            if isinstance(value, dict):
                table = dict(_entry(w, r, f"[{key}] ") for w, r in value.items())
                languages[key.replace("_", "-").casefold()] = table
            else:
                word, text = _entry(key, value, "")
                words[word] = text
        return cls(words, languages)

    def table(self, language: str | None) -> dict[str, str]:
        """The entries for a voice of `language`: general, then its language, then its region."""
        merged = dict(self.words)
        if language:
            tag = language.replace("_", "-").casefold()
            merged.update(self.languages.get(tag.split("-")[0], {}))
            merged.update(self.languages.get(tag, {}))
        return merged

    def apply(self, text: str, language: str | None = None) -> Spoken:
        """`text` with its words replaced, and how to map the TTS's word timings back."""
        table = self.table(language)
        if not table:
            return Spoken(text, [1] * len(text.split()))
        counts: list[int] = []

        def replace(token: re.Match[str]) -> str:
            match = _WORD.match(token.group())
            assert match is not None  # the pattern matches any string
            before, word, after = match.groups()
            replacement = table.get(word.casefold())
            if replacement is None:
                counts.append(1)
                return token.group()
            counts.append(len(replacement.split()))
            return before + replacement + after

        return Spoken(_TOKEN.sub(replace, text), counts)


class Spoken:
    """The text the TTS reads, and the map from its words back to the written words.

    `counts[i]`: how many words of the spoken text written word `i` became. A written word
    that became several is timed from its first part's start to its last part's end; its
    span is held back until its last part is timed (or the synthesis ends: `rest`).
    """

    def __init__(self, text: str, counts: list[int]) -> None:
        self.text = text
        self._written = [i for i, n in enumerate(counts) for _ in range(n)]
        self._last = {i: n for n, i in enumerate(self._written)}  # its last spoken word
        self._identity = all(n == 1 for n in counts)
        self._pending: WordSpan | None = None

    def chunk(self, chunk: SpeechChunk) -> SpeechChunk:
        """`chunk` with its word spans counted in written words."""
        if self._identity or not chunk.words:
            return chunk
        out: list[WordSpan] = []
        for part in sorted(chunk.words, key=lambda s: s.index):
            if part.index >= len(self._written):
                continue
            written = self._written[part.index]
            pending = self._pending
            if pending is not None and pending.index == written:
                merged = WordSpan(written, pending.start, max(pending.end, part.end))
            else:
                if pending is not None:
                    out.append(pending)
                merged = WordSpan(written, part.start, part.end)
            if self._last[written] == part.index:
                out.append(merged)
                self._pending = None
            else:
                self._pending = merged
        return SpeechChunk(chunk.pcm, tuple(out))

    def rest(self) -> SpeechChunk | None:
        """A last, empty chunk with a span still held back (its last part was never timed)."""
        pending, self._pending = self._pending, None
        return SpeechChunk(b"", (pending,)) if pending is not None else None
