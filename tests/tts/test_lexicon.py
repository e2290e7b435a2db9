"""The pronunciation lexicon: what the voice reads, and word timings still of the written words."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicewire.tts.base import SpeechChunk, WordSpan
from voicewire.tts.lexicon import Lexicon, LexiconError

LEXICON = Lexicon.from_dict(
    {
        "nginx": "engine x",
        "voicewire": "[[ vˈɔɪswaɪɚ ]]",
        "SQL": "sequel",
        "de": {"nginx": "Engine X"},
        "en-GB": {"SQL": "S Q L"},
    }
)


def test_words_are_replaced_whole_case_insensitively_keeping_their_punctuation() -> None:
    spoken = LEXICON.apply("Run nginx, then (sql) and Nginxes.")
    assert spoken.text == "Run engine x, then (sequel) and Nginxes."


def test_phonemes_in_double_brackets_are_passed_to_piper_as_one_block() -> None:
    assert LEXICON.apply("I use voicewire!").text == "I use [[vˈɔɪswaɪɚ]]!"


def test_a_language_table_wins_over_the_general_one_and_a_region_over_its_language() -> None:
    assert LEXICON.apply("nginx", "de-DE").text == "Engine X"
    assert LEXICON.apply("SQL and nginx", "en-GB").text == "S Q L and engine x"
    assert LEXICON.apply("SQL", "en-US").text == "sequel"


def test_a_word_read_as_two_is_timed_as_the_one_written_word_from_first_to_last_part() -> None:
    spoken = LEXICON.apply("Run nginx now")  # spoken: Run engine x now
    # The TTS times its own words: "engine" ends one chunk, "x" starts the next.
    first = spoken.chunk(SpeechChunk(b"\0\0", (WordSpan(0, 0, 10), WordSpan(1, 12, 30))))
    second = spoken.chunk(SpeechChunk(b"\0\0", (WordSpan(2, 31, 40), WordSpan(3, 45, 60))))
    assert first.words == (WordSpan(0, 0, 10),)  # "nginx" waits for its last part
    assert second.words == (WordSpan(1, 12, 40), WordSpan(2, 45, 60))
    assert spoken.rest() is None


def test_a_span_whose_last_part_never_comes_rides_on_a_last_empty_chunk() -> None:
    spoken = LEXICON.apply("Run nginx")
    out = spoken.chunk(SpeechChunk(b"\0\0", (WordSpan(0, 0, 10), WordSpan(1, 12, 30))))
    assert out.words == (WordSpan(0, 0, 10),)
    assert spoken.rest() == SpeechChunk(b"", (WordSpan(1, 12, 30),))


def test_without_a_matching_entry_the_text_and_chunks_pass_unchanged() -> None:
    spoken = Lexicon().apply("Hello  there")
    chunk = SpeechChunk(b"\0\0", (WordSpan(0, 0, 5),))
    assert spoken.text == "Hello  there"
    assert spoken.chunk(chunk) is chunk


def test_a_lexicon_file_is_toml_and_a_bad_entry_is_refused_with_its_key(tmp_path: Path) -> None:
    good = tmp_path / "lexicon.toml"
    good.write_text('nginx = "engine x"\n[fr]\nnginx = "engine ix"\n', encoding="utf-8")
    assert Lexicon.load(good).apply("nginx", "fr-FR").text == "engine ix"
    bad = tmp_path / "bad.toml"
    bad.write_text('"two words" = "x"\n', encoding="utf-8")
    with pytest.raises(LexiconError, match="two words"):
        Lexicon.load(bad)
    with pytest.raises(LexiconError, match="empty"):
        Lexicon.from_dict({"nginx": " "})
    with pytest.raises(LexiconError, match="cannot read"):
        Lexicon.load(tmp_path / "missing.toml")
