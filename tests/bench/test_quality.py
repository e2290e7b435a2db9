"""The quality suite: its listener's checks on fixed replies, and a tiny run on a fake LLM."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

import pytest

from voicewire.bench import quality
from voicewire.llm.base import ChatMessage

GOOD = (
    "On a rainy day in Paris, you can visit the Louvre or the Musée d'Orsay. "
    "You could also sit in a café and read a book."
)
PSEUDO_FRENCH = "La monnaie est la monnaie, je ne sapere pas. Il est un bon jour pour la ville."
LOOP = "The best thing is to go. " + "You can go to the park and you can go to the park. " * 3


def test_a_plain_english_answer_passes_every_check() -> None:
    verdict = quality.judge(GOOD)
    assert verdict["ok"], verdict
    assert verdict["words"] == len(GOOD.split())
    assert verdict["repeated"] is None


def test_pseudo_french_is_not_english() -> None:
    assert not quality.is_english(PSEUDO_FRENCH)
    assert not quality.judge(PSEUDO_FRENCH)["ok"]


@pytest.mark.parametrize(
    "text", ["Привет, как дела?", "", "12 34 56", "Hola, ¿cómo estás? Muy bien."]
)
def test_text_in_another_script_or_language_or_without_words_is_not_english(text: str) -> None:
    assert not quality.is_english(text)


def test_a_phrase_said_three_times_is_a_loop() -> None:
    assert quality.repeated(LOOP) == "you can go to"
    assert not quality.judge(LOOP)["no_loop"]


def test_a_sentence_said_twice_is_a_loop() -> None:
    text = "Boil the water. Put the egg in. Boil the water."
    assert quality.repeated(text) == "boil the water"


def test_a_reply_cut_mid_sentence_does_not_end_well() -> None:
    assert not quality.judge("You can visit the Louvre and then")["ends"]


def test_a_reply_of_more_than_a_hundred_words_is_too_long() -> None:
    verdict = quality.judge(" ".join(["Visit the museum of modern art today."] * 15))
    assert not verdict["short"] and verdict["words"] == 105


class AnswersBook:
    """A fake LLM that answers each question from a dict, in two deltas."""

    name = "book"

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        answer = self.answers[messages[-1].content]
        yield answer[:5]
        yield answer[5:]


def test_a_run_counts_each_check_per_run_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    llm = AnswersBook({"Rain?": GOOD, "Money?": PSEUDO_FRENCH, "Park?": LOOP})
    path = tmp_path / "quality.json"
    out = quality.run(llm, runs=2, questions=["Rain?", "Money?", "Park?"], json_path=path)
    assert [s["run"] for s in out["summary"]] == [1, 2]
    summary = out["summary"][0]
    assert summary["questions"] == 3 and summary["ok"] == 1
    assert summary["english"] == 2 and summary["no_loop"] == 2 and summary["ends"] == 3
    assert out["runs"][0][1]["reply"] == PSEUDO_FRENCH
    assert json.loads(path.read_text())["summary"] == out["summary"]
    printed = capsys.readouterr().out
    assert "Money?" in printed and "Rain?" not in printed  # failures are listed, passes not
    assert quality.markdown(out).count("\n") == 1 + 2  # header, rule, a row per run
