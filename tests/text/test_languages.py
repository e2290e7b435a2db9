"""The clause splitter beyond English: a corpus of replies fed whole, char by char and in chunks.

Rules pinned here (see docs/voices.md and voicewire.text.scripts):
- CJK (。！？；，、：), full-width, Devanagari (। ॥) and Arabic (؟ ، ؛ ۔) marks end a sentence or
  clause without a space after them; a sentence mark keeps its closing quotes;
- a CJK char weighs half a word in first_min_words and clause_min_words;
- "3.5", "3,5", "z. B.", "z.B.", "d. h.", "usw.", "M.", "p. ex." never cut;
- French no-break spaces before "?" or "»" keep the mark with its word.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.text.test_segmenter import FEEDERS, assert_invariants, feed_whole
from voicewire.text.scripts import word_count
from voicewire.text.segmenter import ClauseSplitter, Segment, Word

NBSP = "\u00a0"


@dataclass(frozen=True)
class Case:
    id: str
    reply: str
    speech: list[str]  # the speech of each segment, in order
    first_min_words: int = 3
    clause_min_words: int | None = None
    max_chars: int = 220


CORPUS: list[Case] = [
    # Chinese
    Case(
        "zh-sentences-without-spaces",
        "你好！我可以帮你查一下天气。今天北京晴，气温二十五度。",
        ["你好！我可以帮你查一下天气。", "今天北京晴，气温二十五度。"],
    ),
    Case(
        "zh-server-settings-cut-at-clauses",
        "好的，我来帮你查一下。今天北京天气晴朗，最高气温二十五度，适合出门散步。",
        ["好的，", "我来帮你查一下。", "今天北京天气晴朗，最高气温二十五度，", "适合出门散步。"],
        first_min_words=1,
        clause_min_words=6,
    ),
    Case(
        "zh-closing-quote-stays-with-its-sentence",
        "他说：“我明天来。”然后他走了。",
        ["他说：", "“我明天来。”", "然后他走了。"],
        first_min_words=1,
    ),
    Case(
        "zh-decimal-and-clause",
        "价格是3.5元，约合0.5美元。",
        ["价格是3.5元，", "约合0.5美元。"],
    ),
    Case(
        "zh-latin-word-counts-whole",
        "我喜欢用Python写代码。它很简单！",
        ["我喜欢用Python写代码。", "它很简单！"],
    ),
    Case(
        "zh-question-exclamation-together",
        "真的吗？！太好了。",
        ["真的吗？！", "太好了。"],
        first_min_words=1,
    ),
    Case(
        "zh-enumeration-comma-is-a-clause",
        "我买了苹果、香蕉和橙子。",
        ["我买了苹果、", "香蕉和橙子。"],
    ),
    Case("zh-ellipsis-is-no-mark", "我想想……好吧，就这样。", ["我想想……好吧，", "就这样。"]),
    Case(
        "zh-short-first-clause-waits-for-words",
        "好的，没问题。",
        ["好的，没问题。"],
    ),
    Case(
        "zh-mixed-with-english",
        "OK，我明白了。Let me check. 好的。",
        ["OK，", "我明白了。", "Let me check.", "好的。"],
        first_min_words=1,
    ),
    Case(
        "zh-markdown-list",
        "步骤如下：\n1. 打开文件。\n2. 保存它。",
        ["步骤如下：", "打开文件。", "保存它。"],
    ),
    Case(
        "zh-full-width-digits-keep-their-point",
        "增长了３．５个百分点。很好。",
        ["增长了３．５个百分点。", "很好。"],
    ),
    Case(
        "zh-max-chars-cuts-between-chars",
        "我们今天一起去公园散步然后去超市买一些水果和蔬菜",
        ["我们今天一起去公园散", "步然后去超市买一些水", "果和蔬菜"],
        max_chars=10,
    ),
    Case(
        "zh-max-chars-prefers-the-last-clause",
        "好的。我们今天一起去，公园散步然后去超市买一些水果。",
        ["好的。", "我们今天一起去，", "公园散步然后去超市买", "一些水果。"],
        first_min_words=1,
        max_chars=10,
    ),
    # Japanese
    Case(
        "ja-sentences",
        "こんにちは。今日はいい天気ですね。散歩に行きましょう！",
        ["こんにちは。", "今日はいい天気ですね。", "散歩に行きましょう！"],
    ),
    Case(
        "ja-quote-inside-sentence",
        "彼は「明日行きます」と言った。それから帰った。",
        ["彼は「明日行きます」と言った。", "それから帰った。"],
    ),
    Case(
        "ja-full-width-question",
        "本当ですか？はい、そうです！ありがとう。",
        ["本当ですか？", "はい、そうです！", "ありがとう。"],
        first_min_words=1,
    ),
    Case("ja-half-width-marks", "ﾃｽﾄです｡次です｡", ["ﾃｽﾄです｡", "次です｡"], first_min_words=1),
    Case(
        "ja-thousands-and-decimal",
        "価格は1,500円です。約3.5ドルです。",
        ["価格は1,500円です。", "約3.5ドルです。"],
    ),
    # Hindi
    Case(
        "hi-danda",
        "नमस्ते। मैं आपकी मदद कर सकता हूँ। आज मौसम अच्छा है॥",
        ["नमस्ते। मैं आपकी मदद कर सकता हूँ।", "आज मौसम अच्छा है॥"],
    ),
    Case(
        "hi-latin-question-and-comma",
        "क्या आप तैयार हैं? हाँ, मैं तैयार हूँ।",
        ["क्या आप तैयार हैं?", "हाँ, मैं तैयार हूँ।"],
    ),
    Case(
        "hi-decimals",
        "इसकी कीमत 3.5 रुपये है। या ३.५ डॉलर। धन्यवाद।",
        ["इसकी कीमत 3.5 रुपये है।", "या ३.५ डॉलर।", "धन्यवाद।"],
    ),
    Case(
        "hi-danda-without-space",
        "पहला वाक्य यहाँ है।दूसरा वाक्य है।",
        ["पहला वाक्य यहाँ है।", "दूसरा वाक्य है।"],
    ),
    # Arabic and Urdu
    Case(
        "ar-question-mark",
        "مرحبا، كيف حالك؟ أنا بخير، شكرا.",
        ["مرحبا، كيف حالك؟", "أنا بخير، شكرا."],
    ),
    Case(
        "ar-comma-and-semicolon",
        "نعم، يمكنني المساعدة؛ ما هو سؤالك؟",
        ["نعم،", "يمكنني المساعدة؛", "ما هو سؤالك؟"],
        first_min_words=1,
        clause_min_words=2,
    ),
    Case(
        "ar-latin-decimal",
        "السعر 3.5 دولار. شكرا لك.",
        ["السعر 3.5 دولار.", "شكرا لك."],
    ),
    Case(
        "ar-arabic-indic-decimal",
        "السعر ٣٫٥ دولار؟ نعم بالتأكيد.",
        ["السعر ٣٫٥ دولار؟", "نعم بالتأكيد."],
    ),
    Case("ur-full-stop", "یہ ایک جملہ ہے۔ یہ دوسرا ہے۔", ["یہ ایک جملہ ہے۔", "یہ دوسرا ہے۔"]),
    # German
    Case("de-z-b", "Nimm z. B. einen Apfel mit. Gut.", ["Nimm z. B. einen Apfel mit.", "Gut."]),
    Case("de-z-b-tight", "Nimm z.B. einen Apfel mit. Gut.", ["Nimm z.B. einen Apfel mit.", "Gut."]),
    Case(
        "de-d-h",
        "Es ist spät, d. h. wir gehen jetzt. Tschüss.",
        ["Es ist spät,", "d. h. wir gehen jetzt.", "Tschüss."],
    ),
    Case(
        "de-usw",
        "Wir brauchen Äpfel, Birnen usw. für den Kuchen. Danke.",
        ["Wir brauchen Äpfel,", "Birnen usw. für den Kuchen.", "Danke."],
    ),
    Case(
        "de-decimal-comma-and-thousands-point",
        "Das kostet 3,5 Euro und 1.000 Leute kommen. Super.",
        ["Das kostet 3,5 Euro und 1.000 Leute kommen.", "Super."],
    ),
    Case(
        "de-ca-bzw",
        "Es dauert ca. 5 Minuten bzw. etwas länger. Okay.",
        ["Es dauert ca. 5 Minuten bzw. etwas länger.", "Okay."],
    ),
    Case("de-nr", "Das ist Nr. 5 auf der Liste. Gut.", ["Das ist Nr. 5 auf der Liste.", "Gut."]),
    Case(
        "de-u-a",
        "Es gibt u. a. Brot und Käse. Lecker.",
        ["Es gibt u. a. Brot und Käse.", "Lecker."],
    ),
    Case(
        "de-low-high-quotes",
        "„Das ist gut.“ Dann gehen wir.",
        ["„Das ist gut.“", "Dann gehen wir."],
    ),
    # French
    Case(
        "fr-monsieur", "Je vois M. Dupont demain. Merci.", ["Je vois M. Dupont demain.", "Merci."]
    ),
    Case(
        "fr-p-ex",
        "Prenez un fruit, p. ex. une pomme. Merci.",
        ["Prenez un fruit,", "p. ex. une pomme.", "Merci."],
    ),
    Case(
        "fr-space-before-marks",
        "Vraiment ? Oui ! C'est parfait : on y va. D'accord.",
        ["Vraiment? Oui! C'est parfait:", "on y va.", "D'accord."],
    ),
    Case(
        "fr-no-break-spaces-keep-marks-with-their-word",
        f"Il a dit «{NBSP}Bonjour{NBSP}!{NBSP}» et il est parti. Voilà.",
        ["Il a dit Bonjour!»", "et il est parti.", "Voilà."],
    ),
    Case(
        "fr-decimal-comma-and-spaced-thousands",
        "Il fait 3,5 degrés et 1 000 personnes. Bien.",
        ["Il fait 3,5 degrés et 1 000 personnes.", "Bien."],
    ),
    Case(
        "fr-env-etc",
        "Il faut env. 10 minutes, etc. pour cuire. Bon appétit.",
        ["Il faut env. 10 minutes,", "etc. pour cuire.", "Bon appétit."],
    ),
    Case(
        "zh-full-width-thousands-keep-their-comma",
        "一共１，０００人，都来了。",
        ["一共１，０００人，", "都来了。"],
        first_min_words=1,
    ),
    Case(
        "fr-madame-c-a-d",
        "Mme. Leroy vient demain, c.-à-d. jeudi. Merci.",
        ["Mme. Leroy vient demain,", "c.-à-d. jeudi.", "Merci."],
    ),
    # other scripts with their own marks
    Case("my-burmese", "မင်္ဂလာပါ။ နေကောင်းလား။", ["မင်္ဂလာပါ။", "နေကောင်းလား။"], first_min_words=1),
    Case("hy-armenian", "Բարեւ ձեզ։ Ինչպես եք։", ["Բարեւ ձեզ։", "Ինչպես եք։"], first_min_words=1),
    Case("am-ethiopic", "ሰላም ነው። አመሰግናለሁ።", ["ሰላም ነው።", "አመሰግናለሁ።"], first_min_words=1),
    # others with Latin punctuation
    Case(
        "es-inverted-marks", "¿Qué tal? ¡Muy bien! Gracias.", ["¿Qué tal? ¡Muy bien!", "Gracias."]
    ),
    Case(
        "ko-spaced", "안녕하세요. 만나서 반갑습니다. 네.", ["안녕하세요. 만나서 반갑습니다.", "네."]
    ),
]


def split(case: Case, feeder: str = "whole") -> list[Segment]:
    splitter = ClauseSplitter(
        first_min_words=case.first_min_words,
        clause_min_words=case.clause_min_words,
        max_chars=case.max_chars,
    )
    return FEEDERS[feeder](splitter, case.reply)


@pytest.mark.parametrize("feeder", FEEDERS)
@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.id)
def test_language_corpus_reply_is_spoken_as_the_expected_segments(case: Case, feeder: str) -> None:
    assert [s.speech for s in split(case, feeder)] == case.speech


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.id)
def test_language_corpus_gives_identical_segments_however_it_is_chunked(case: Case) -> None:
    whole = split(case, "whole")
    assert split(case, "char-by-char") == whole
    assert split(case, "random-chunks") == whole
    assert_invariants(case.reply, whole)


def test_language_corpus_covers_the_six_required_languages() -> None:
    prefixes = {c.id.split("-")[0] for c in CORPUS}
    assert {"zh", "ja", "hi", "ar", "de", "fr"} <= prefixes
    assert len({c.id for c in CORPUS}) == len(CORPUS)


def test_a_chinese_clause_is_released_the_moment_its_comma_arrives() -> None:
    splitter = ClauseSplitter(first_min_words=1, clause_min_words=6)
    reply = "好的，我来帮你查一下今天的天气情况，请稍等。"
    out: list[str] = []
    for pos, char in enumerate(reply):
        out += [s.text for s in splitter.feed(char)]
        if pos == reply.index("，"):
            assert out == ["好的，"]
    assert out == ["好的，", "我来帮你查一下今天的天气情况，"]
    assert [s.text for s in splitter.flush()] == ["请稍等。"]


def test_a_chinese_sentence_is_released_at_the_char_after_its_full_stop() -> None:
    splitter = ClauseSplitter(first_min_words=1)
    assert splitter.feed("我明白了。") == []  # a closing quote may still follow
    [first] = splitter.feed("你")
    assert (first.text, first.start, first.end) == ("我明白了。", 0, 5)
    [rest] = splitter.flush()
    assert (rest.text, rest.start) == ("你", 5)


def test_a_full_width_point_after_a_digit_waits_for_the_next_char() -> None:
    splitter = ClauseSplitter(first_min_words=0)
    assert splitter.feed("增长３．") == []
    assert splitter.feed("５") == []
    assert [s.text for s in splitter.feed("个点。好")] == ["增长３．５个点。"]


@pytest.mark.parametrize(
    ("texts", "weight"),
    [
        (["你好"], 1),
        (["今天天气很好"], 3),
        (["こんにちは。"], 3),
        (["Python代码"], 2),
        (["I", "can", "help"], 3),
        (["नमस्ते", "दुनिया"], 2),
        (["3.5元"], 2),
    ],
)
def test_cjk_chars_weigh_half_a_word_and_spaced_words_one(texts: list[str], weight: int) -> None:
    assert word_count(Word(t, 0, len(t)) for t in texts) == weight


FRAGMENTS = [
    "你好", "。", "！", "？", "，", "、", "；", "：", "」", "「", "“", "”", "„", "３", "．", "５",
    "।", "॥", "नमस्ते", "؟", "،", "؛", "۔", "مرحبا", "z. B.", "d. h.", "p. ex.", "M.", "3,5",
    "3.5", NBSP, "\u202f", "»", "«", " ", "\n", "Hallo", "ﾃｽﾄ", "｡", "…", "😀",
    "```", "\n```\n", "**", "- ", "1. ",
]  # fmt: skip
replies = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    reply=replies,
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=30),
    first_min_words=st.integers(min_value=0, max_value=4),
    clause_min_words=st.none() | st.integers(min_value=1, max_value=6),
    max_chars=st.integers(min_value=1, max_value=60),
)
def test_any_chunking_of_any_multilingual_text_gives_the_segments_of_the_whole_feed(
    reply: str, cuts: list[int], first_min_words: int, clause_min_words: int | None, max_chars: int
) -> None:
    def make() -> ClauseSplitter:
        return ClauseSplitter(
            first_min_words=first_min_words, clause_min_words=clause_min_words, max_chars=max_chars
        )

    whole = feed_whole(make(), reply)
    splitter = make()
    chunked: list[Segment] = []
    bounds = sorted({0, len(reply), *(c for c in cuts if c < len(reply))})
    for start, end in itertools.pairwise(bounds):
        chunked += splitter.feed(reply[start:end])
    assert chunked + splitter.flush() == whole
    assert_invariants(reply, whole)
