"""What the TTS reads of a piece of reply: its spoken words, markdown, code and emoji removed."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from voicewire.text.scripts import TRAILING


@dataclass(frozen=True, slots=True)
class Word:
    """One speakable word and the char range of the original reply it comes from."""

    text: str  # the word as the TTS will read it (markdown markers removed)
    start: int  # offset in the whole reply, inclusive
    end: int  # offset in the whole reply, exclusive


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of reply text that is synthesized as one piece of audio."""

    index: int  # 0, 1, 2, ... in reply order
    text: str  # reply[start:end], the original characters
    speech: str  # what the TTS must read: markdown/emoji/code removed, whitespace collapsed
    start: int
    end: int
    words: tuple[Word, ...]


SPOKEN_SYMBOLS = frozenset("&%$€£¥+=°")  # "°" is category So but "25°C" must keep it
_SILENT_CATEGORIES = frozenset({"So", "Sk", "Cf", "Co", "Cs", "Me"})
_FENCE_LINE = re.compile(r" {0,3}(`{3,}|~{3,})")
_LINE_MARKERS = re.compile(r"[ \t]*(?:>[ \t]*)*(?:(?:#{1,6}|[-*+]|\d{1,3}[.)])(?=\s|$))?")
_INLINE_MARKERS = re.compile(r"\]\([^)\s]*\)|!(?=\[)|[\[\]`]+|~~|(?<!\w)[*_]+|[*_]+(?!\w)")


def _is_silent(c: str) -> bool:
    if c in SPOKEN_SYMBOLS:
        return False
    if "\ufe00" <= c <= "\ufe0f" or "\U000e0100" <= c <= "\U000e01ef":  # variation selectors
        return True
    return unicodedata.category(c) in _SILENT_CATEGORIES


def speech_words(text: str, base: int, at_line_start: bool) -> tuple[Word, ...]:
    """The spoken words of ``text`` (which starts outside any code fence at offset ``base``)."""
    silent = bytearray(len(text))  # silent chars vanish without splitting the word around them
    in_fence, fence, pos = False, "", 0
    while pos < len(text):
        newline = text.find("\n", pos)
        end = len(text) if newline < 0 else newline + 1
        m = _FENCE_LINE.match(text, pos, end) if at_line_start else None
        if in_fence or m:
            silent[pos:end] = b"\x01" * (end - pos)
            if m and not in_fence:
                in_fence, fence = True, m.group(1)
            elif m and m.group(1).startswith(fence):
                in_fence = False
        else:
            start = pos
            if at_line_start:
                start = _LINE_MARKERS.match(text, pos, end).end()  # type: ignore[union-attr]  # can match ""
                silent[pos:start] = b"\x01" * (start - pos)
            for m in _INLINE_MARKERS.finditer(text, start, end):
                silent[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
        pos, at_line_start = end, True

    words: list[Word] = []
    chars: list[str] = []
    first = last = 0
    for i, c in enumerate(text + " "):
        if c.isspace() or c == "|":
            if any(ch.isalnum() or ch in SPOKEN_SYMBOLS for ch in chars):
                words.append(Word("".join(chars), base + first, base + last + 1))
            elif chars and words and TRAILING.issuperset(chars):
                # "family ❤️." keeps its full stop for the prosody: glue it to the last word
                words[-1] = Word(words[-1].text + "".join(chars), words[-1].start, base + last + 1)
            chars = []
        elif not silent[i] and not _is_silent(c):
            if not chars:
                first = i
            chars.append(c)
            last = i
    return tuple(words)
