"""ClauseSplitter.cut(): the reply pauses (a tool call) and goes on after it."""

from __future__ import annotations

import itertools

from voicewire.text.segmenter import ClauseSplitter


def texts(splitter: ClauseSplitter, *parts: str | None) -> list[str]:
    """Feed `parts`; None is a cut. The texts of the segments, in order."""
    out = []
    for part in parts:
        out += splitter.cut() if part is None else splitter.feed(part)
    return [s.text for s in out + splitter.flush()]


def test_a_cut_ends_the_pending_text_as_a_segment_without_waiting_for_a_boundary() -> None:
    splitter = ClauseSplitter(first_min_words=1, clause_min_words=6)
    segments = splitter.feed("Sure, let me look")
    segments += splitter.cut()
    assert [s.text for s in segments] == ["Sure,", " let me look"]
    assert [s.index for s in segments] == [0, 1]


def test_a_cut_with_nothing_pending_makes_no_segment() -> None:
    splitter = ClauseSplitter(first_min_words=1)
    assert splitter.cut() == [] and splitter.cut() == []


def test_after_a_cut_the_text_is_released_like_a_replys_first_segment() -> None:
    # "Okay," after the pause is released at once, as "Sure," opening a reply is;
    # a later clause needs clause_min_words.
    parts = ["Let me check.", None, "Okay, two flats match, both near the park. Done."]
    assert texts(ClauseSplitter(first_min_words=1, clause_min_words=6), *parts) == [
        "Let me check.",
        "Okay,",
        " two flats match, both near the park.",
        " Done.",
    ]


def test_segments_after_cuts_still_tile_the_reply() -> None:
    splitter = ClauseSplitter(first_min_words=1, clause_min_words=6)
    reply = ["One moment.", None, " Let me check. ", None, "It is sunny today, and warm."]
    segments = []
    for part in reply:
        segments += splitter.cut() if part is None else splitter.feed(part)
    segments += splitter.flush()
    text = "".join(p for p in reply if p)
    assert segments[0].start == 0 and segments[-1].end == len(text.rstrip())
    assert "".join(s.text for s in segments) == text[: segments[-1].end]
    for a, b in itertools.pairwise(segments):
        assert a.end == b.start
