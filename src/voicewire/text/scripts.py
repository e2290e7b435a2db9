"""Per-script and per-language tables of the clause splitter (see docs/voices.md).

Latin punctuation ends a clause or sentence only when whitespace follows it ("3.5", "3,5",
"a.b@x.co" never cut). The marks of scripts that need no such test - CJK, full-width forms,
Devanagari, Arabic - end one right away, whatever follows: they never occur inside a number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

# Abbreviations whose "." ends nothing. One table for every language: the splitter does not know
# the reply's language, so only entries that are not also a common word of another language.
_ABBREVIATION_WORDS = (
    # English
    "dr mr mrs ms mx prof st mt ft vs etc inc ltd co corp jr sr approx dept est gen gov sgt capt"
    " lt col rev hon cf al ave blvd"
    # German (z. B., d. h. and u. a. are single letters: see INITIALS)
    " usw bzw ca evtl ggf inkl vgl bspw zzgl sog ggü hrsg jh jhd str tel abs"
    # French (M. is an initial; p. ex. is in MULTI_PART)
    " mme mmes mlle mlles env av bd éd"
)
# Only abbreviations when a number follows: "No. 5" but "No. I don't think so."
_NUMBER_ABBREVIATION_WORDS = (
    "no nos fig figs vol pp ch sec eq art jan feb aug sep sept oct nov dec nr abb bd n°"
)
ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
NUMBER_ABBREVIATIONS = frozenset(_NUMBER_ABBREVIATION_WORDS.split())
# A single letter ("J.", "z.", "p.") or dotted letters ("e.g", "U.S", "Ph.D", "z.B", "d.h").
INITIALS = re.compile(r"[A-Za-zÀ-ɏ]|(?:[A-Za-zÀ-ɏ]{1,2}\.)+[A-Za-zÀ-ɏ]{1,2}")
# The last part of an abbreviation written with a space: "p. ex.", "c.-à-d.", "i. d. R.".
MULTI_PART = re.compile(r"(?:^|\s)(?:p\.\s?ex|c\.-à-d|c-à-d|s\.\s?v\.\s?p)$", re.IGNORECASE)

# Marks that end a sentence or a clause without whitespace after them.
SCRIPT_SENTENCE_MARKS = frozenset(
    "。！？｡．"  # CJK and full-width
    "।॥"  # Devanagari danda, double danda
    "؟۔"  # Arabic question mark, Urdu full stop
    "။։።"  # Burmese section mark, Armenian full stop, Ethiopic full stop
)
SCRIPT_CLAUSE_MARKS = frozenset(
    "，、；：､"  # CJK and full-width
    "،؛"  # Arabic comma, semicolon
    "၊፣"  # Burmese little section mark, Ethiopic comma
)
SCRIPT_MARKS = SCRIPT_SENTENCE_MARKS | SCRIPT_CLAUSE_MARKS

_CJK_CLOSERS = "」』）】〕〉》〗〙〛＂＇］｝｣"
# German quotes open with „ and close with “: "“" closes too.
CLOSERS = frozenset("\"')]}»”’“‘*_`~" + _CJK_CLOSERS)
OPENERS = "\"'([{«“‘„‚*_`~「『（【〔〈《〖〘〚＂＇［｛｢¿¡"
CLAUSE_MARKS = frozenset(",;:—–")
TRAILING = frozenset(".,;:!?…—–\"')]}»”’“‘" + _CJK_CLOSERS) | SCRIPT_MARKS
# Spaces that glue a French "?" or "»" to its word: no boundary is taken at them.
GLUE_SPACES = frozenset("\u00a0\u202f")

# Chars of scripts written without spaces: Han, kana, bopomofo. Two of them count as one word
# (a Chinese syllable or a Japanese mora takes about half the time of an English word).
_UNSPACED = re.compile(
    "[\u3040-\u30ff\u31f0-\u31ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\uff66-\uff9f\U00020000-\U0003134f]"
)


def is_unspaced(c: str) -> bool:
    """Whether ``c`` belongs to a script written without spaces between words."""
    return _UNSPACED.match(c) is not None


class HasText(Protocol):
    @property
    def text(self) -> str: ...


def word_count(words: Iterable[HasText]) -> int:
    """How many words ``words`` weigh for the min-words rules: CJK chars count half a word."""
    total = 0
    for word in (w.text for w in words):
        unspaced = len(_UNSPACED.findall(word))
        if unspaced == 0:
            total += 1
        else:
            spaced = _UNSPACED.sub(" ", word).split()
            total += (unspaced + 1) // 2 + sum(1 for w in spaced if any(c.isalnum() for c in w))
    return total
