"""Streaming clause splitter: cuts the text deltas of an LLM reply into speakable segments.

The rules (pinned down by tests/text/test_segmenter.py and test_languages.py; the per-script
tables are in voicewire.text.scripts, and docs/voices.md says how each language is cut):

* Offsets are char offsets in the whole reply. A cut is always made right after a non-space
  char, so the whitespace between two segments is the *leading* part of the next segment.
* A boundary is taken only once the char after it has been seen, or at ``flush()``. A boundary
  is a line break, or punctuation (plus closing quotes, brackets and markdown markers) followed
  by whitespace - so "3.5", "1,000", "10:30", "a.b@x.co.uk" and "example.com/a.b" never cut.
  CJK, full-width, Devanagari and Arabic marks need no whitespace after them.
* First segment: released at the first clause (``, ; : — –``) or sentence (``. ! ?``) boundary
  where it has at least ``first_min_words`` spoken words (a CJK char weighs half a word). A
  "," or ";" right after a letter, or a CJK or Arabic clause mark (not after a digit), is such a
  boundary at once, whatever follows, so "Sure," is released the moment it arrives.
  A line break always ends a segment (list items and headings are their own segments),
  whatever the word count.
* Later segments: released at sentence ends and line breaks (and, with ``clause_min_words``,
  at a clause boundary once they have that many words). A segment that grows past
  ``max_chars`` (counted from its first speakable char) is cut at its last clause boundary
  within ``max_chars``, else at its last word boundary there, else at the next one after.
* A "." after an abbreviation (Dr, etc, e.g, usw, z. B, p. ex, ...), a single letter or the
  number of a list item at the start of a line ends nothing; after "No", "Fig", "Nr", "Dec", ...
  it ends nothing when a number follows. An ellipsis ("..." or "…") ends a sentence only when
  the next word starts with a capital letter; otherwise it is a clause boundary.
* A fenced code block (``` or ~~~) is never cut and never spoken; it joins the next segment.
* No segment is emitted with empty speech. Unspeakable text after the last emitted segment
  (whitespace, a code block, emoji) is therefore covered by no segment: the segments tile
  ``reply[0:last.end]`` and ``reply[last.end:]`` has no speech. If the whole reply is
  unspeakable, ``flush()`` returns []. ``flush()`` also readies the splitter for a new reply.
"""

from __future__ import annotations

import copy

from voicewire.text.scripts import (
    ABBREVIATIONS,
    CLAUSE_MARKS,
    CLOSERS,
    GLUE_SPACES,
    INITIALS,
    MULTI_PART,
    NUMBER_ABBREVIATIONS,
    OPENERS,
    SCRIPT_CLAUSE_MARKS,
    SCRIPT_SENTENCE_MARKS,
    is_unspaced,
    word_count,
)
from voicewire.text.speech import SPOKEN_SYMBOLS, Segment, Word, speech_words

__all__ = ["ClauseSplitter", "Segment", "Word"]


_WORD, _CLAUSE, _SENTENCE, _BREAK = range(4)
_ELLIPSIS, _NUMBERED = range(2)


class ClauseSplitter:
    """Feed it the deltas of one reply, then flush(); each call returns the finished segments.

    Every delta is walked one char at a time, and each decision looks only at the chars seen so
    far, so the segments never depend on how the reply was chunked into deltas.
    """

    def __init__(
        self,
        *,
        first_min_words: int = 3,
        max_chars: int = 220,
        clause_min_words: int | None = None,
    ) -> None:
        self._first_min_words = first_min_words
        self._max_chars = max_chars
        # Later segments also end at a clause boundary once they have this many words (None:
        # only at sentence ends): shorter pieces keep audio flowing when synthesis is busy.
        self._clause_min_words = clause_min_words
        self._start_reply()

    def feed(self, delta: str) -> list[Segment]:
        self._text += delta
        out: list[Segment] = []
        while self._pos < len(self._text):
            cut = self._step(self._pos)
            self._pos += 1
            if cut is None and not self._overflow:
                cut = self._check_overflow()
            if cut is not None:
                out.append(self._emit(cut))
        return out

    def peek(self) -> Segment | None:
        """The segment one whitespace char would release now, if it ends where the text fed so
        far ends (a sentence whose period has come but not the char after it); None otherwise.
        Changes nothing: a caller may start speaking it early, and keeps that work only if
        the same segment is then released."""
        if not self._text or self._text[-1].isspace():
            return None
        out = copy.copy(self).feed(" ")  # (every field is immutable: a shallow copy is whole)
        end = self._offset + len(self._text)
        return out[0] if len(out) == 1 and out[0].end == end else None

    def cut(self) -> list[Segment]:
        """End the pending segment here (the reply pauses: a tool call); the reply goes on."""
        out = self.feed("")  # (takes in nothing new: the chars already fed are all seen)
        end = len(self._text)
        if self._words(end):
            out.append(self._emit(end))
        # What follows a pause is released like a reply's first segment: as soon as possible.
        self._opening = True
        return out

    def flush(self) -> list[Segment]:
        out = [self._emit(len(self._text))] if self._words(len(self._text)) else []
        self._start_reply()
        return out

    def _start_reply(self) -> None:
        self._text = ""  # the reply from the start of the pending segment on
        self._offset = 0  # reply offset of self._text[0]
        self._index = 0
        self._opening = True  # the next segment opens the reply (or follows a pause)
        self._start_segment(line_start=0)

    def _start_segment(self, line_start: int | None) -> None:
        # A segment other than the first starts right after a non-space char: mid-line.
        self._pos = 0
        self._line_start = line_start
        self._in_fence = False
        self._fence = ""  # the run of ``` or ~~~ that opened the fence
        self._fence_opening = False  # still on the line that opened the fence
        self._indent = 0
        self._fence_char = ""
        self._run = 0 if line_start == 0 else -1  # fence chars starting this line; -1: none
        self._content_start: int | None = None  # first speakable-looking char
        self._token_end = 0  # end of the last non-space char
        self._deferred: tuple[int, int] | None = None  # boundary waiting for the next word
        self._pending: tuple[int, int, bool] | None = None  # a 。 or ３． awaiting the next char
        self._best_clause: int | None = None  # last clause boundary within max_chars
        self._best_word: int | None = None  # last word boundary within max_chars
        self._overflow = False
        self._cache: tuple[int, tuple[Word, ...]] = (-1, ())

    def _words(self, end: int) -> tuple[Word, ...]:
        if self._cache[0] != end:
            words = speech_words(self._text[:end], self._offset, self._offset == 0)
            self._cache = (end, words)
        return self._cache[1]

    def _emit(self, end: int) -> Segment:
        words = self._words(end)
        speech = " ".join(w.text for w in words)
        text = self._text[:end]
        segment = Segment(self._index, text, speech, self._offset, self._offset + end, words)
        self._index += 1
        self._opening = False
        self._offset += end
        self._text = self._text[end:]
        self._start_segment(line_start=None)
        return segment

    def _step(self, p: int) -> int | None:
        """Take in char ``p`` (looking at nothing after it); return where to cut, if anywhere."""
        text = self._text
        c = text[p]
        if c == "\n":
            self._fence_opening = False
            self._indent = self._run = 0
        elif self._run >= 0:
            self._track_run(c)
        if self._in_fence:
            if c == "\n":
                self._line_start = p + 1
            elif not c.isspace():
                self._token_end = p + 1
                if self._fence_opening and self._run > len(self._fence):
                    self._fence = c * self._run
                elif not self._fence_opening and c * self._run == self._fence:
                    self._in_fence = False
            return None
        if c in GLUE_SPACES:
            return None  # "Vraiment\u00a0?" and "!\u00a0»" are one token: no boundary inside
        if self._pending is not None:
            end, kind, after_digit = self._pending
            if not c.isspace() and (c in CLOSERS or c in SCRIPT_SENTENCE_MARKS or c in "!?"):
                self._pending = (p + 1, kind, False)  # "？！" and "。」" end it together
                self._token_end = p + 1
                return None
            self._pending = None
            cut = None if after_digit and c.isdigit() else self._candidate(end, kind)
            if cut is not None:
                return cut  # char p is taken in again as the first char of the next segment
        if c.isspace():
            spaced = p > 0 and (not text[p - 1].isspace() or text[p - 1] in GLUE_SPACES)
            cut = self._after_token(p) if spaced else None
            if c == "\n":
                if cut is None:
                    cut = self._candidate(self._token_end, _BREAK)
                self._deferred = None
                self._line_start = p + 1
            return cut
        self._token_end = p + 1
        if self._run == 3:
            self._in_fence, self._fence, self._fence_opening = True, c * 3, True
        elif self._content_start is None and (c.isalnum() or c in SPOKEN_SYMBOLS):
            self._content_start = p
        if p > 0 and is_unspaced(c) and is_unspaced(text[p - 1]):
            # Between two CJK chars is a word boundary for max_chars: no space will come.
            cut = self._candidate(p, _WORD)
            if cut is not None:
                return cut
        if self._deferred is None:
            if c in ",;" and self._opening and p > 0 and text[p - 1].isalpha():
                # "Sure," ends a clause whatever follows (unlike "1,000"): the first segment
                # need not wait for the next token, which saves one token of first-audio delay.
                return self._candidate(p + 1, _CLAUSE) if not self._overflow else None
        elif c not in OPENERS:
            end, kind = self._deferred
            self._deferred = None
            if kind == _ELLIPSIS:
                return self._candidate(end, _SENTENCE if c.isupper() else _CLAUSE)
            if not c.isdigit():
                return self._candidate(end, _SENTENCE)
        # A CJK (etc.) sentence mark waits a char for closing quotes; any after a digit for a digit.
        after_digit = p > 0 and text[p - 1].isdigit()
        if c in SCRIPT_CLAUSE_MARKS and not after_digit:
            return self._candidate(p + 1, _CLAUSE)
        if c in SCRIPT_CLAUSE_MARKS or c in SCRIPT_SENTENCE_MARKS:
            self._pending = (p + 1, _CLAUSE if c in SCRIPT_CLAUSE_MARKS else _SENTENCE, after_digit)
        return None

    def _track_run(self, c: str) -> None:
        if self._run == 0 and c == " " and self._indent < 3:
            self._indent += 1
        elif c in "`~" and (self._run == 0 or self._fence_char == c):
            self._run += 1
            self._fence_char = c
        else:
            self._run = -1

    def _after_token(self, p: int) -> int | None:
        """Whitespace at ``p`` follows a token: classify the boundary at ``p``."""
        cut = self._candidate(p, _WORD)
        if cut is not None:
            return cut
        text = self._text
        j = p
        while j > 0 and (text[j - 1] in CLOSERS or text[j - 1] in GLUE_SPACES):
            j -= 1
        if j == 0:
            return None
        mark = text[j - 1]
        if mark in "!?":
            return self._candidate(p, _SENTENCE)
        if mark in CLAUSE_MARKS or (mark == "-" and j >= 2 and text[j - 2].isspace()):
            return self._candidate(p, _CLAUSE)
        if mark == "…" or text.endswith("..", 0, j):
            self._deferred = (p, _ELLIPSIS)
            return None
        if mark != ".":
            return None
        k = j - 1
        while k > 0 and not text[k - 1].isspace():
            k -= 1
        token = text[k : j - 1].lstrip(OPENERS)
        line_start = self._line_start
        if token.isdigit() and line_start is not None and not text[line_start:k].strip(" \t>"):
            return None  # "1." of a list item
        lower = token.lower()
        if lower in NUMBER_ABBREVIATIONS:
            self._deferred = (p, _NUMBERED)
            return None
        if lower in ABBREVIATIONS or INITIALS.fullmatch(token) or MULTI_PART.search(text, 0, j - 1):
            return None
        return self._candidate(p, _SENTENCE)

    def _candidate(self, end: int, kind: int) -> int | None:
        """Whether to cut at ``end`` now, for a boundary of ``kind`` that is certain."""
        content = self._content_start
        if content is None or end <= content:
            return None
        if not self._overflow:
            if end - content <= self._max_chars:
                if kind == _WORD:
                    self._best_word = end
                else:  # a sentence end the first segment had to skip is a clause boundary too
                    self._best_clause = end
            if kind == _WORD:
                return None
            if kind == _CLAUSE and not self._opening:
                least = self._clause_min_words
                if least is None or word_count(self._words(end)) < least:
                    return None
        words = self._words(end)
        if not words:
            return None
        first = self._opening and not self._overflow and kind != _BREAK
        return None if first and word_count(words) < self._first_min_words else end

    def _check_overflow(self) -> int | None:
        content = self._content_start
        if content is None or self._pos - content <= self._max_chars:
            return None
        self._overflow = True
        for end in (self._best_clause, self._best_word):
            if end is not None and self._words(end):
                return end
        return None
