"""SentenceGate: the first sentence streams, later ones come out whole, a cut tail is dropped."""

from __future__ import annotations

import pytest

from voicewire.llm.sentences import SentenceGate, ends_sentence


def run(deltas: list[str], max_sentences: int, *, complete: bool) -> tuple[list[str], bool]:
    gate = SentenceGate(max_sentences)
    out = []
    for delta in deltas:
        out.append(gate.feed(delta))
        if gate.done:
            break
    out.append(gate.finish(complete=complete))
    return out, gate.done


def tokens(text: str) -> list[str]:
    return [word + " " for word in text.split(" ")[:-1]] + [text.split(" ")[-1]]


@pytest.mark.parametrize(
    "text",
    ["It rains.", "Really?", "Go!", 'He said "yes."', "Wait…", "It was built in 1889.", "Done.)"],
)
def test_a_reply_ending_with_sentence_punctuation_ends_a_sentence(text: str) -> None:
    assert ends_sentence(text)
    assert ends_sentence(text + "  ")


@pytest.mark.parametrize(
    "text", ["It rains", "Ask Dr.", "for example, e.g.", "Ask J.", "Visit the", "Well,", ""]
)
def test_a_reply_cut_mid_sentence_or_after_an_abbreviation_does_not_end_a_sentence(
    text: str,
) -> None:
    assert not ends_sentence(text)


def test_the_first_sentence_streams_delta_by_delta() -> None:
    gate = SentenceGate(4)
    assert gate.feed("Paris") == "Paris"
    assert gate.feed(" has") == " has"
    assert gate.feed(" museums.") == " museums."


def test_later_sentences_are_released_only_once_they_end() -> None:
    gate = SentenceGate(4)
    assert gate.feed("Paris has museums. ") == "Paris has museums."
    assert gate.feed("The Louvre") == ""
    assert gate.feed(" is big.") == ""  # "big." may still become "big.5"; a space settles it
    assert gate.feed(" You") == " The Louvre is big."
    assert gate.finish(complete=True) == " You"


def test_a_reply_cut_by_the_token_budget_is_trimmed_back_to_its_last_sentence_end() -> None:
    text = "Visit the Louvre. Then walk to the Orsay museum. It is open until six in the"
    out, _ = run(tokens(text), 4, complete=False)
    assert "".join(out) == "Visit the Louvre. Then walk to the Orsay museum."


def test_a_reply_the_model_ended_itself_is_released_whole_even_without_a_final_stop() -> None:
    text = "Hello there. Nice to meet you"
    out, done = run(tokens(text), 4, complete=True)
    assert "".join(out) == text
    assert not done


def test_generation_is_done_after_the_budget_of_sentences() -> None:
    text = "One is here. Two is here. Three is here. Four is here. Five is here. Six."
    out, done = run(tokens(text), 3, complete=True)
    assert done
    assert "".join(out) == "One is here. Two is here. Three is here."


def test_abbreviations_decimals_and_list_numbers_are_not_sentence_ends() -> None:
    text = "Ask Dr. Smith about it, e.g. on Monday. It costs 3.5 euros.\n1. Go now. Then rest. X"
    out, done = run(list(text), 3, complete=False)
    assert done
    assert "".join(out) == "Ask Dr. Smith about it, e.g. on Monday. It costs 3.5 euros.\n1. Go now."


def test_a_line_break_ends_a_sentence_and_empty_lines_are_not_counted() -> None:
    out, done = run(
        tokens("Here are ideas:\n\n\nVisit a museum\nSee a film\nRest"), 3, complete=True
    )
    assert done
    assert "".join(out) == "Here are ideas:\n\n\nVisit a museum\nSee a film"


def test_a_gate_of_zero_sentences_passes_everything_through_untouched() -> None:
    deltas = tokens("No limit here. None at all. And it is cut mid")
    out, done = run(deltas, 0, complete=False)
    assert out[:-1] == deltas
    assert out[-1] == ""
    assert not done


def test_the_released_text_does_not_depend_on_how_the_reply_was_chunked() -> None:
    text = "Rain is fine. Try a café! Or read a book? Stay dry and warm today"
    for complete in (True, False):
        whole, _ = run([text], 4, complete=complete)
        chars, _ = run(list(text), 4, complete=complete)
        words, _ = run(tokens(text), 4, complete=complete)
        assert "".join(whole) == "".join(chars) == "".join(words)


def test_sentence_ends_of_other_scripts_count_as_sentence_ends() -> None:
    assert ends_sentence("今天北京天气晴朗。")
    assert ends_sentence("क्या आप मदद चाहते हैं?") and ends_sentence("यह अच्छा है।")
    assert ends_sentence("هل تريد المساعدة؟")
    assert not ends_sentence("今天北京天气晴朗，")
