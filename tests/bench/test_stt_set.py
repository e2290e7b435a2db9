"""The STT benchmark's test set and its word error rate."""

from __future__ import annotations

from voicewire.bench.stt_set import REQUESTS, edit_distance, human_set, wer, words


def test_words_ignore_case_punctuation_dashes_and_how_small_numbers_are_written() -> None:
    assert words("Set a timer for 10 minutes, at 7. Co-op!") == (
        ["set", "a", "timer", "for", "ten", "minutes", "at", "seven", "co", "op"]
    )
    assert words("room 101") == ["room", "101"]


def test_the_word_error_rate_counts_substitutions_insertions_and_deletions() -> None:
    assert edit_distance(["a", "b", "c"], ["a", "x", "c", "d"]) == 2
    assert wer([("what is the weather", "What is the weather?")]) == 0.0
    assert wer([("a b c d", "a b"), ("e f", "e f")]) == 2 / 6


def test_the_human_recordings_ship_inside_a_package_with_their_texts() -> None:
    recordings = {name: (pcm, text) for name, pcm, text in human_set()}
    assert set(recordings) == {"two_cities.wav", "beckett.wav"}
    pcm, text = recordings["two_cities.wav"]
    assert 40 < len(pcm) / 2 / 16000 < 50
    assert len(words(text)) == 119
    assert len(set(REQUESTS)) == len(REQUESTS) >= 20
