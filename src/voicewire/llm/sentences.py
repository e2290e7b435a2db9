"""SentenceGate: a streamed reply that stops after a few sentences and ends at a sentence end.

A small model cut by its token budget stops mid-word, and the voice then reads half a sentence.
The gate counts sentence ends as the deltas arrive. The first sentence streams as it comes, since
first audio must not wait; from the second on, text is held until its sentence ends. Holding costs
nothing audible: the voice is still reading the sentences before it, and a sentence is written far
faster than it is spoken. When the budget of sentences is reached the gate says `done` (the caller
stops generating); when the model was cut off, `finish(complete=False)` drops the unfinished tail.

The gate is sans-I/O: strings in, strings out, no event loop, so its rules are tested directly.
"""

from __future__ import annotations

import re

from voicewire.text.scripts import SCRIPT_SENTENCE_MARKS

# A "." after these ends nothing: "Dr. Smith", "e.g. Paris", "No. 5".
_ABBREVIATION_WORDS = (
    "dr mr mrs ms prof st mt vs etc inc ltd jr sr approx no fig vol jan feb aug sept oct nov dec"
    " e.g i.e a.m p.m u.s"
)
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
_CLOSERS = "\"')]}»”’*_"
# Latin ends, and those of other scripts (。！？ । ؟ …): a Chinese reply is counted too.
_MARKS = frozenset(".!?…") | SCRIPT_SENTENCE_MARKS


def ends_sentence(text: str) -> bool:
    """Whether `text` (a reply so far, trailing whitespace ignored) ends at a sentence end."""
    text = text.rstrip()
    end = len(text.rstrip(_CLOSERS))
    if end == 0 or text[end - 1] not in _MARKS:
        return False
    if text[end - 1] != "." or text.endswith("..", 0, end):
        return True
    token = text[:end].rsplit(maxsplit=1)[-1].lstrip("\"'([{«“‘")
    word = token[:-1].lower()
    if word.isdigit():
        return True  # "in 1999." - a list number "1." stands at a line start, handled below
    return bool(word) and word not in _ABBREVIATIONS and not re.fullmatch(r"[a-z]", word)


class SentenceGate:
    """Feed it a reply's deltas; it returns what may be released now. 0 sentences: no limit."""

    def __init__(self, max_sentences: int) -> None:
        self.max_sentences = max_sentences
        self.sentences = 0
        self.done = False
        self._text = ""
        self._released = 0  # chars of _text already returned
        self._last_end = 0  # offset right after the last sentence end
        self._scanned = 0

    def feed(self, delta: str) -> str:
        if self.max_sentences <= 0:
            return delta
        self._text += delta
        self._scan()
        # Before the first sentence end everything streams; after it, whole sentences only.
        limit = len(self._text) if self.sentences == 0 else self._last_end
        return self._release(limit)

    def finish(self, *, complete: bool) -> str:
        """The rest of the reply: all of it if the model ended it, else up to its last sentence."""
        if self.max_sentences <= 0:
            return ""
        if complete and not self.done:
            return self._release(len(self._text))
        return self._release(self._last_end)

    def _release(self, limit: int) -> str:
        if limit <= self._released:
            return ""
        out = self._text[self._released : limit]
        self._released = limit
        return out

    def _scan(self) -> None:
        text = self._text
        # A boundary is certain once the whitespace after it has arrived ("3.5" is no end).
        for i in range(max(self._scanned, 1), len(text)):
            if self.done:
                break
            c = text[i]
            if not c.isspace() or text[i - 1].isspace():
                continue
            line = text[:i].rsplit("\n", 1)[-1]
            if c == "\n" or (ends_sentence(text[:i]) and not re.fullmatch(r"\s*\d{1,3}\.", line)):
                self._boundary(i)
        self._scanned = len(text)

    def _boundary(self, end: int) -> None:
        if any(c.isalnum() for c in self._text[self._last_end : end]):
            self.sentences += 1
        self._last_end = end
        if self.sentences >= self.max_sentences:
            self.done = True
