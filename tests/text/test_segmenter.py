"""The streaming clause splitter: a corpus of replies, fed whole, char by char and in chunks.

Rules pinned here (see the module docstring of voicewire.text.segmenter):
- the first segment waits for a clause or sentence boundary with >= first_min_words words;
  a line break always ends a segment;
- later segments end at sentence ends and line breaks, or when they grow past max_chars;
- an ellipsis ends a sentence only before a capital letter, otherwise it is a clause boundary;
- unspeakable text after the last segment (whitespace, code, emoji) is covered by no segment.
"""

from __future__ import annotations

import itertools
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voicewire.text.segmenter import ClauseSplitter, Segment, Word


@dataclass(frozen=True)
class Case:
    id: str
    reply: str
    speech: list[str]  # the speech of each segment, in order
    first_min_words: int = 3
    max_chars: int = 220


CORPUS: list[Case] = [
    # first segment
    Case(
        "first-at-sentence-after-min-words",
        "Sure, I can help with that. Here it is.",
        ["Sure, I can help with that.", "Here it is."],
    ),
    Case(
        "first-at-clause-after-min-words",
        "Well, I think that, honestly, it works. Yes.",
        ["Well, I think that,", "honestly, it works.", "Yes."],
    ),
    Case(
        "first-at-semicolon",
        "It was late at night; we left. Then home.",
        ["It was late at night;", "we left.", "Then home."],
    ),
    Case(
        "first-at-colon",
        "Here is the plan: we go now. Okay.",
        ["Here is the plan:", "we go now.", "Okay."],
    ),
    Case(
        "first-at-em-dash",
        "I think the answer — honestly — is yes. Right.",
        ["I think the answer—", "honestly— is yes.", "Right."],
    ),
    Case(
        "first-at-en-dash",
        "The best option – by far – is this. Done.",
        ["The best option–", "by far– is this.", "Done."],
    ),
    Case(
        "first-short-sentences-merge",
        "Hi. How are you today? Good.",
        ["Hi. How are you today?", "Good."],
    ),
    Case(
        "first-exclamation-short-merges",
        "Yes! That is right. Great.",
        ["Yes! That is right.", "Great."],
    ),
    Case(
        "first-min-words-one-releases-first-clause",
        "Sure, I can help.",
        ["Sure,", "I can help."],
        first_min_words=1,
    ),
    Case("first-min-words-zero", "Okay. Fine, then.", ["Okay.", "Fine, then."], first_min_words=0),
    Case(
        "first-min-words-five",
        "Sure, I can help with that, friend. Bye.",
        ["Sure, I can help with that,", "friend.", "Bye."],
        first_min_words=5,
    ),
    Case("first-never-boundary-at-end", "Sure, I can help", ["Sure, I can help"]),
    Case("first-line-break-always-cuts", "Hi!\nHow are you?", ["Hi!", "How are you?"]),
    Case(
        "later-segments-need-no-min-words",
        "I can do that for you. Yes. No? Ok!",
        ["I can do that for you.", "Yes.", "No?", "Ok!"],
    ),
    Case(
        "later-clauses-do-not-cut",
        "This is the first one. Then, later, we meet; fine.",
        ["This is the first one.", "Then, later, we meet; fine."],
    ),
    Case(
        "first-words-count-speech-not-markdown",
        "**Sure**, **I** _can_, help now.",
        ["Sure, I can,", "help now."],
    ),
    Case(
        "first-emoji-not-counted-as-words",
        "😀 🎉 Hi, there you go, friend.",
        ["Hi, there you go,", "friend."],
    ),
    Case(
        "first-clause-in-digits",
        "On 1,000 days, 2 of us, at 10:30, met.",
        ["On 1,000 days,", "2 of us, at 10:30, met."],
    ),
    # sentence ends
    Case("question-mark", "Is it ready? It is.", ["Is it ready?", "It is."]),
    Case("interrobang", "Really?! Yes it is. Wow!!", ["Really?! Yes it is.", "Wow!!"]),
    Case(
        "closing-double-quote",
        'He said "I am here." Then he left.',
        ['He said "I am here."', "Then he left."],
    ),
    Case(
        "closing-curly-quote",
        "She said “we are done.” Then silence.",
        ["She said “we are done.”", "Then silence."],
    ),
    Case(
        "closing-paren",
        "It works (mostly.) Then it stops.",
        ["It works (mostly.)", "Then it stops."],
    ),
    Case(
        "closing-bold",
        "**This is important.** Read it twice.",
        ["This is important.", "Read it twice."],
    ),
    Case(
        "closing-italic",
        "That was *very good.* Thanks a lot.",
        ["That was very good.", "Thanks a lot."],
    ),
    Case(
        "no-space-after-period-no-cut",
        "Look at this.And this too. Done.",
        ["Look at this.And this too.", "Done."],
    ),
    Case(
        "lowercase-after-period-still-cuts",
        "This is fine. and so is this.",
        ["This is fine.", "and so is this."],
    ),
    Case(
        "three-sentences",
        "One two three. Four five six. Seven eight nine.",
        ["One two three.", "Four five six.", "Seven eight nine."],
    ),
    Case(
        "multiple-spaces", "One two three.    Four five six.", ["One two three.", "Four five six."]
    ),
    Case("tab-after-period", "One two three.\tFour five.", ["One two three.", "Four five."]),
    # abbreviations
    Case(
        "abbr-dr", "I met Dr. Smith today. He was kind.", ["I met Dr. Smith today.", "He was kind."]
    ),
    Case(
        "abbr-mr-mrs",
        "Call Mr. and Mrs. Jones now. Thanks.",
        ["Call Mr. and Mrs. Jones now.", "Thanks."],
    ),
    Case("abbr-ms", "Ask Ms. Lee about it. She knows.", ["Ask Ms. Lee about it.", "She knows."]),
    Case(
        "abbr-prof",
        "Our guest is Prof. Chen tonight. Welcome.",
        ["Our guest is Prof. Chen tonight.", "Welcome."],
    ),
    Case(
        "abbr-st", "It is on St. James Street here. Go.", ["It is on St. James Street here.", "Go."]
    ),
    Case("abbr-vs", "It is cats vs. dogs again. Fun.", ["It is cats vs. dogs again.", "Fun."]),
    Case(
        "abbr-etc",
        "I can help you. Bring apples, pears, etc. to the party. Ok.",
        ["I can help you.", "Bring apples, pears, etc. to the party.", "Ok."],
    ),
    Case(
        "abbr-eg",
        "Use a fruit e.g. an apple today. Ok.",
        ["Use a fruit e.g. an apple today.", "Ok."],
    ),
    Case(
        "abbr-ie",
        "Use the best one i.e. the red one. Ok.",
        ["Use the best one i.e. the red one.", "Ok."],
    ),
    Case(
        "abbr-us-uk",
        "Both the U.S. and the U.K. agreed on it. Good.",
        ["Both the U.S. and the U.K. agreed on it.", "Good."],
    ),
    Case(
        "abbr-am-pm",
        "We open at 9 a.m. and close at 5 p.m. every day. Come.",
        ["We open at 9 a.m. and close at 5 p.m. every day.", "Come."],
    ),
    Case(
        "abbr-inc-ltd",
        "Acme Inc. bought Foo Ltd. last year. Wow.",
        ["Acme Inc. bought Foo Ltd. last year.", "Wow."],
    ),
    Case(
        "abbr-jr-sr",
        "Bob Jr. and Bob Sr. came home. Nice.",
        ["Bob Jr. and Bob Sr. came home.", "Nice."],
    ),
    Case(
        "abbr-no-before-number",
        "It is item No. 5 on the list. Ok.",
        ["It is item No. 5 on the list.", "Ok."],
    ),
    Case(
        "abbr-no-as-a-word",
        "I can do that. No. It is too late.",
        ["I can do that.", "No.", "It is too late."],
    ),
    Case(
        "abbr-fig",
        "As shown in Fig. 3 above, it rises. Ok.",
        ["As shown in Fig. 3 above,", "it rises.", "Ok."],
    ),
    Case(
        "abbr-fig-the-fruit",
        "I ate a ripe fig. Then I slept.",
        ["I ate a ripe fig.", "Then I slept."],
    ),
    Case(
        "abbr-approx",
        "It takes approx. 5 minutes to boil. Ok.",
        ["It takes approx. 5 minutes to boil.", "Ok."],
    ),
    Case(
        "abbr-initials",
        "J. R. R. Tolkien wrote many books. Read them.",
        ["J. R. R. Tolkien wrote many books.", "Read them."],
    ),
    Case(
        "abbr-initial-in-name",
        "I spoke to John F. Kennedy Jr. once. Really.",
        ["I spoke to John F. Kennedy Jr. once.", "Really."],
    ),
    Case(
        "abbr-phd", "She has a Ph.D. in math now. Cool.", ["She has a Ph.D. in math now.", "Cool."]
    ),
    Case(
        "abbr-in-parens",
        "Some fruits (e.g. apples) are red. Ok.",
        ["Some fruits (e.g. apples) are red.", "Ok."],
    ),
    Case(
        "abbr-month-before-number",
        "It starts on Dec. 25 this year. Ok.",
        ["It starts on Dec. 25 this year.", "Ok."],
    ),
    # numbers, times, urls, emails, files, versions
    Case(
        "price", "It costs $29.99 at the store. Cheap.", ["It costs $29.99 at the store.", "Cheap."]
    ),
    Case("decimal", "Pi is about 3.14159 in total. Ok.", ["Pi is about 3.14159 in total.", "Ok."]),
    Case(
        "thousands",
        "There are 1,000 cats and 1,000,000 dogs here. Wow.",
        ["There are 1,000 cats and 1,000,000 dogs here.", "Wow."],
    ),
    Case(
        "negative-percent",
        "The rate fell -2.5% this year. Sad.",
        ["The rate fell -2.5% this year.", "Sad."],
    ),
    Case(
        "number-at-sentence-end",
        "The answer is 42. That is it.",
        ["The answer is 42.", "That is it."],
    ),
    Case(
        "decimal-at-sentence-end",
        "The total was 3.5. Then tax.",
        ["The total was 3.5.", "Then tax."],
    ),
    Case(
        "time",
        "The meeting is at 10:30 tomorrow. Be there.",
        ["The meeting is at 10:30 tomorrow.", "Be there."],
    ),
    Case(
        "time-am",
        "The meeting is at 10:30 a.m. sharp. Be there.",
        ["The meeting is at 10:30 a.m. sharp.", "Be there."],
    ),
    Case(
        "url",
        "See https://example.com/a.b?c=d for more info. Thanks.",
        ["See https://example.com/a.b?c=d for more info.", "Thanks."],
    ),
    Case(
        "url-at-sentence-end",
        "It is at https://example.com/docs. Go there.",
        ["It is at https://example.com/docs.", "Go there."],
    ),
    Case(
        "www",
        "Visit www.example.com for the news. Bye.",
        ["Visit www.example.com for the news.", "Bye."],
    ),
    Case(
        "email",
        "Write to a.b@example.co.uk today. Thanks.",
        ["Write to a.b@example.co.uk today.", "Thanks."],
    ),
    Case(
        "file-name",
        "Open report.pdf in the viewer. Done.",
        ["Open report.pdf in the viewer.", "Done."],
    ),
    Case(
        "version", "Install v1.2.3 of the tool now. Ok.", ["Install v1.2.3 of the tool now.", "Ok."]
    ),
    Case(
        "version-at-end",
        "The latest release is v1.2.3. Update.",
        ["The latest release is v1.2.3.", "Update."],
    ),
    Case(
        "range-en-dash",
        "Open from 9–5 on weekdays, they say. Ok.",
        ["Open from 9–5 on weekdays,", "they say.", "Ok."],
    ),
    Case("ip-address", "Ping 192.168.0.1 to test it. Ok.", ["Ping 192.168.0.1 to test it.", "Ok."]),
    # ellipsis
    Case(
        "ellipsis-then-capital-ends-sentence",
        "I am not so sure about this... Maybe later.",
        ["I am not so sure about this...", "Maybe later."],
    ),
    Case(
        "ellipsis-then-lowercase-is-clause-for-first",
        "I waited and waited... and then it came. Ok.",
        ["I waited and waited...", "and then it came.", "Ok."],
    ),
    Case(
        "ellipsis-then-lowercase-later-does-not-cut",
        "This is the start. I waited... and then it came. Ok.",
        ["This is the start.", "I waited... and then it came.", "Ok."],
    ),
    Case(
        "unicode-ellipsis-capital",
        "This is the start. Wait… What was that? Ok.",
        ["This is the start.", "Wait…", "What was that?", "Ok."],
    ),
    Case(
        "unicode-ellipsis-lowercase",
        "This is the start. Wait… what was that? Ok.",
        ["This is the start.", "Wait… what was that?", "Ok."],
    ),
    Case(
        "ellipsis-inside-word-no-cut",
        "This is the start. So...what now? Ok.",
        ["This is the start.", "So...what now?", "Ok."],
    ),
    Case(
        "ellipsis-then-quote-capital",
        'This is the start. Hmm... "Yes," she said.',
        ["This is the start.", "Hmm...", '"Yes," she said.'],
    ),
    Case("ellipsis-at-reply-end", "This is the start. Then...", ["This is the start.", "Then..."]),
    # newlines and lists
    Case(
        "newline-without-punctuation",
        "This is the first line\nAnd the second line",
        ["This is the first line", "And the second line"],
    ),
    Case(
        "paragraph-break",
        "First paragraph here.\n\nSecond paragraph here.",
        ["First paragraph here.", "Second paragraph here."],
    ),
    Case(
        "dash-list",
        "Shopping list:\n- eggs\n- milk\n- bread",
        ["Shopping list:", "eggs", "milk", "bread"],
    ),
    Case("star-list", "Shopping list:\n* eggs\n* milk", ["Shopping list:", "eggs", "milk"]),
    Case("plus-list", "Shopping list:\n+ eggs\n+ milk", ["Shopping list:", "eggs", "milk"]),
    Case(
        "numbered-list",
        "Steps to follow:\n1. Open it.\n2. Read it.\n10. Close it.",
        ["Steps to follow:", "Open it.", "Read it.", "Close it."],
    ),
    Case(
        "numbered-list-paren",
        "Steps to follow:\n1) Open it\n2) Close it",
        ["Steps to follow:", "Open it", "Close it"],
    ),
    Case(
        "numbered-list-first",
        "1. First step here\n2. Second step here",
        ["First step here", "Second step here"],
    ),
    Case(
        "nested-list",
        "Plan for today:\n- Work\n  - emails\n  - calls\n- Rest",
        ["Plan for today:", "Work", "emails", "calls", "Rest"],
    ),
    Case(
        "list-item-with-two-sentences",
        "Notes:\n- It is red. It is big.\n- Done",
        ["Notes:", "It is red.", "It is big.", "Done"],
    ),
    Case(
        "heading",
        "# Title\nSome text here.\n## Sub title\nMore text.",
        ["Title", "Some text here.", "Sub title", "More text."],
    ),
    Case("windows-newlines", "Line one here\r\nLine two here", ["Line one here", "Line two here"]),
    Case(
        "blank-lines-and-spaces",
        "One two three.  \n\n   \nFour five.",
        ["One two three.", "Four five."],
    ),
    Case(
        "number-dot-mid-line-is-sentence-end",
        "I counted to 3. Then I stopped.",
        ["I counted to 3.", "Then I stopped."],
    ),
    # markdown speech
    Case("md-bold", "This is **very** important stuff.", ["This is very important stuff."]),
    Case(
        "md-bold-underscore", "This is __very__ important stuff.", ["This is very important stuff."]
    ),
    Case("md-italic", "This is *quite* good and _nice_ too.", ["This is quite good and nice too."]),
    Case(
        "md-snake-case-kept",
        "Call my_function with x_1 please.",
        ["Call my_function with x_1 please."],
    ),
    Case("md-inline-code", "Run `pip list` in the shell.", ["Run pip list in the shell."]),
    Case("md-link", "Read [the docs](https://example.com/a.b) first.", ["Read the docs first."]),
    Case("md-image", "Look at ![a cat](cat.png) here.", ["Look at a cat here."]),
    Case("md-strikethrough", "It is ~~bad~~ good now.", ["It is bad good now."]),
    Case(
        "md-blockquote",
        "> To be or not to be.\n> That is it.",
        ["To be or not to be.", "That is it."],
    ),
    Case("md-table", "| Name | Age |\n|------|-----|\n| Ann | 30 |", ["Name Age", "Ann 30"]),
    Case(
        "md-horizontal-rule",
        "Part one is done.\n\n---\n\nPart two.",
        ["Part one is done.", "Part two."],
    ),
    Case("md-bold-label", "**Note:** this is it. Ok.", ["Note: this is it.", "Ok."]),
    Case("md-multiplication-kept", "We know 2*3 equals 6 here.", ["We know 2*3 equals 6 here."]),
    Case("md-hashtag-kept", "I love C# and #python a lot.", ["I love C# and #python a lot."]),
    Case(
        "md-checkbox",
        "Todo list:\n- [ ] buy milk\n- [x] pay rent",
        ["Todo list:", "buy milk", "x pay rent"],
    ),
    # code fences
    Case(
        "code-block-joins-next-segment",
        "Run this:\n```python\nprint('hi. there')\n```\nIt prints hi.",
        ["Run this:", "It prints hi."],
    ),
    Case(
        "code-block-not-spoken-tilde",
        "Run this:\n~~~\nls -la. ok\n~~~\nDone now.",
        ["Run this:", "Done now."],
    ),
    Case(
        "code-block-at-end-not-spoken", "Here is the code:\n```\nx = 1\n```", ["Here is the code:"]
    ),
    Case(
        "code-block-unclosed",
        "Here is the code:\n```js\nlet a = 1;\nlet b = 2;",
        ["Here is the code:"],
    ),
    Case("code-block-only", "```\nprint('hi')\n```", []),
    Case(
        "code-block-then-text-sentence",
        "Try it.\n```\na\n```\nWorks? Yes.",
        ["Try it.", "Works?", "Yes."],
    ),
    Case(
        "code-block-with-backticks-inside",
        "Example below:\n```md\nUse `x`. Then **y**.\n```\nThat is all.",
        ["Example below:", "That is all."],
    ),
    Case("inline-triple-backticks-not-a-fence", "Type ```x``` here. Ok.", ["Type x here.", "Ok."]),
    Case(
        "code-fence-with-four-backticks",
        "Look here:\n````\n```\ninner\n```\n````\nEnd of it.",
        ["Look here:", "End of it."],
    ),
    # emoji and symbols
    Case("emoji-removed", "Great job 🎉 you did it! 👍", ["Great job you did it!"]),
    Case("emoji-zwj-sequence", "Our 👨‍👩‍👧 family is here.", ["Our family is here."]),
    Case("emoji-skin-tone", "Nice 👍🏽 work there.", ["Nice work there."]),
    Case("emoji-variation-selector", "I ❤️ you so much.", ["I you so much."]),
    Case("emoji-keeps-final-period", "We love you ❤️. Bye now.", ["We love you.", "Bye now."]),
    Case(
        "emoji-only-line",
        "Hello there friend.\n🎉🎉\nBye now.",
        ["Hello there friend.", "Bye now."],
    ),
    Case("degree-and-symbols-kept", "It is 25°C & sunny + warm.", ["It is 25°C & sunny + warm."]),
    Case("flag-emoji", "Made in 🇫🇷 France today.", ["Made in France today."]),
    Case("keycap-emoji", "Press 1️⃣ now please.", ["Press 1 now please."]),
    # max_chars
    Case(
        "max-chars-cuts-at-last-clause",
        "One two three four five six, seven eight nine ten, eleven twelve thirteen.",
        ["One two three four five six,", "seven eight nine ten,", "eleven twelve thirteen."],
        max_chars=30,
    ),
    Case(
        "max-chars-cuts-at-word-boundary",
        "Alpha beta. gamma delta epsilon zeta eta theta iota kappa lambda.",
        ["Alpha beta.", "gamma delta epsilon zeta eta", "theta iota kappa lambda."],
        max_chars=30,
    ),
    Case(
        "max-chars-long-token-waits",
        "Ok, go now. " + "x" * 40 + " end.",
        ["Ok, go now.", "x" * 40, "end."],
        max_chars=20,
    ),
    Case(
        "max-chars-first-segment",
        "alpha beta gamma delta epsilon zeta eta",
        ["alpha beta gamma", "delta epsilon zeta", "eta"],
        max_chars=18,
    ),
    Case(
        "max-chars-keeps-url-whole",
        "See https://example.com/a/b/c/d/e.html now ok.",
        ["See", "https://example.com/a/b/c/d/e.html", "now ok."],
        max_chars=10,
    ),
    Case(
        "max-chars-never-cuts-code",
        "Ok then, look.\n```\n" + "x = 1\n" * 10 + "```\nDone.",
        ["Ok then, look.", "Done."],
        max_chars=20,
    ),
    # unspeakable
    Case("empty-reply", "", []),
    Case("whitespace-only", "  \n\n  ", []),
    Case("emoji-only", "🎉 👍 😀", []),
    Case("punctuation-only", "... --- !!!", []),
    Case("trailing-whitespace", "Hello there friend.  \n\n", ["Hello there friend."]),
    Case("trailing-emoji", "Hello there friend. 🎉", ["Hello there friend."]),
]

# Exact segment texts: the whitespace between two segments leads the next one, and trailing
# unspeakable text is covered by no segment.
TEXT_CASES: list[tuple[str, str, list[str]]] = [
    (
        "space-leads-next-segment",
        "Hello there, my friend. How are you?",
        ["Hello there, my friend.", " How are you?"],
    ),
    ("paragraph-break-leads-next-segment", "Hi!\n\nYes, sure.", ["Hi!", "\n\nYes, sure."]),
    (
        "code-block-leads-next-segment",
        "Intro.\n```\ncode\n```\nAfter.",
        ["Intro.", "\n```\ncode\n```\nAfter."],
    ),
    ("trailing-whitespace-not-covered", "Hello there friend.  \n", ["Hello there friend."]),
    ("trailing-code-not-covered", "Hello there friend.\n```\nx\n```\n", ["Hello there friend."]),
    ("flush-keeps-trailing-space-of-pending-segment", "Hi. Yes.  ", ["Hi. Yes.  "]),
    (
        "closing-bold-stays-in-segment",
        "**This is bold.** Next one.",
        ["**This is bold.**", " Next one."],
    ),
    (
        "closing-quote-stays-in-segment",
        'He said "I am here." Then',
        ['He said "I am here."', " Then"],
    ),
    ("list-items", "Options:\n- a\n- b", ["Options:", "\n- a", "\n- b"]),
    ("leading-emoji-joins-first-segment", "🎉 Hello there, friend!", ["🎉 Hello there, friend!"]),
    (
        "leading-whitespace-joins-first-segment",
        "\n\n  Hello there, friend!",
        ["\n\n  Hello there, friend!"],
    ),
    ("trailing-emoji-not-covered", "Hello there friend. 🎉", ["Hello there friend."]),
]


def feed_whole(splitter: ClauseSplitter, reply: str) -> list[Segment]:
    return splitter.feed(reply) + splitter.flush()


def feed_char_by_char(splitter: ClauseSplitter, reply: str) -> list[Segment]:
    out: list[Segment] = []
    for char in reply:
        out += splitter.feed(char)
    return out + splitter.flush()


def feed_random_chunks(splitter: ClauseSplitter, reply: str) -> list[Segment]:
    rng = random.Random(f"segmenter:{reply}")
    out: list[Segment] = []
    pos = 0
    while pos < len(reply):
        size = rng.randint(0, 9)  # 0: an empty delta now and then
        out += splitter.feed(reply[pos : pos + size])
        pos += size
    return out + splitter.flush()


FEEDERS: dict[str, Callable[[ClauseSplitter, str], list[Segment]]] = {
    "whole": feed_whole,
    "char-by-char": feed_char_by_char,
    "random-chunks": feed_random_chunks,
}


def split(case: Case, feeder: str = "whole") -> list[Segment]:
    splitter = ClauseSplitter(first_min_words=case.first_min_words, max_chars=case.max_chars)
    return FEEDERS[feeder](splitter, case.reply)


def assert_invariants(reply: str, segments: list[Segment]) -> None:
    pos = 0
    for index, segment in enumerate(segments):
        assert segment.index == index
        assert segment.start == pos < segment.end
        assert segment.text == reply[segment.start : segment.end]
        assert segment.speech
        assert segment.speech == " ".join(w.text for w in segment.words)
        for word in segment.words:
            assert segment.start <= word.start < word.end <= segment.end
            assert word.text and not any(c.isspace() for c in word.text)
            # the word's chars are the original chars, in order, with markup dropped between
            assert reply[word.start] == word.text[0]
            assert reply[word.end - 1] == word.text[-1]
            source = iter(reply[word.start : word.end])
            assert all(c in source for c in word.text)
        pos = segment.end


@pytest.mark.parametrize("feeder", FEEDERS)
@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.id)
def test_corpus_reply_is_spoken_as_the_expected_segments(case: Case, feeder: str) -> None:
    assert [s.speech for s in split(case, feeder)] == case.speech


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.id)
def test_corpus_reply_gives_identical_segments_however_it_is_chunked(case: Case) -> None:
    whole = split(case, "whole")
    assert split(case, "char-by-char") == whole
    assert split(case, "random-chunks") == whole


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.id)
def test_corpus_segments_tile_the_reply_and_their_words_point_at_the_original(case: Case) -> None:
    segments = split(case)
    assert_invariants(case.reply, segments)
    tail = case.reply[segments[-1].end :] if segments else case.reply
    if tail:  # only unspeakable text may be left uncovered
        assert feed_whole(ClauseSplitter(), tail) == []


def test_corpus_has_at_least_a_hundred_cases_with_unique_ids() -> None:
    assert len(CORPUS) >= 100
    assert len({c.id for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("feeder", FEEDERS)
@pytest.mark.parametrize(
    ("reply", "texts"), [c[1:] for c in TEXT_CASES], ids=[c[0] for c in TEXT_CASES]
)
def test_segment_texts_are_the_original_chars_with_whitespace_leading(
    reply: str, texts: list[str], feeder: str
) -> None:
    segments = FEEDERS[feeder](ClauseSplitter(), reply)
    assert [s.text for s in segments] == texts
    assert_invariants(reply, segments)


def test_first_segment_is_released_at_the_first_clause_after_three_words() -> None:
    splitter = ClauseSplitter()
    reply = "Sure, I can help with that. Let me explain."
    cut = reply.index("that.") + len("that.")
    for pos, char in enumerate(reply[:cut]):
        assert splitter.feed(char) == [], f"released early at {pos}"
    [first] = splitter.feed(" ")
    assert (first.index, first.text, first.speech) == (0, "Sure, I can help with that.", first.text)
    assert (first.start, first.end) == (0, cut)


def test_first_segment_is_released_the_moment_a_comma_after_a_word_arrives() -> None:
    splitter = ClauseSplitter(first_min_words=1)
    [first] = splitter.feed("Sure,")
    assert first.text == "Sure,"
    assert splitter.feed(" ") == []
    assert splitter.feed("I can help") == []
    [rest] = splitter.flush()
    assert (rest.index, rest.text, rest.speech) == (1, " I can help", "I can help")


def test_a_comma_after_a_digit_still_waits_for_the_next_char() -> None:
    splitter = ClauseSplitter(first_min_words=1)
    assert splitter.feed("It costs 1,") == []
    assert splitter.feed("000 dollars") == []
    assert [s.text for s in splitter.flush()] == ["It costs 1,000 dollars"]


def test_first_segment_is_not_released_at_a_comma_before_three_words() -> None:
    splitter = ClauseSplitter()
    assert splitter.feed("Sure, I can help") == []
    assert [s.text for s in splitter.flush()] == ["Sure, I can help"]


def test_a_boundary_is_not_taken_before_the_next_char_is_seen() -> None:
    splitter = ClauseSplitter(first_min_words=1)
    assert splitter.feed("It costs 3.") == []
    assert splitter.feed("5") == []
    assert splitter.feed(" dollars.") == []
    assert [s.speech for s in splitter.feed(" ")] == ["It costs 3.5 dollars."]


def test_ellipsis_waits_for_the_next_word_to_decide() -> None:
    splitter = ClauseSplitter()
    assert splitter.feed("This is the start. ") != []
    assert splitter.feed("I waited...  ") == []
    assert [s.speech for s in splitter.feed("N")] == ["I waited..."]


def test_code_block_is_held_until_the_fence_closes() -> None:
    splitter = ClauseSplitter()
    assert [s.text for s in splitter.feed("Look at this:\n")] == ["Look at this:"]
    assert splitter.feed("```\nfirst line. Second line.\nthird line\n") == []
    [after] = splitter.feed("```\nThat is all. ")
    assert after.text == "\n```\nfirst line. Second line.\nthird line\n```\nThat is all."
    assert after.speech == "That is all."


def test_words_carry_the_offsets_of_the_original_chars() -> None:
    [segment] = feed_whole(ClauseSplitter(), "**Hello** world")
    assert segment.speech == "Hello world"
    assert segment.words == (Word("Hello", 2, 7), Word("world", 10, 15))


def test_words_of_later_segments_use_offsets_in_the_whole_reply() -> None:
    reply = "I can help with that. See [the docs](https://x.io) now."
    segments = feed_whole(ClauseSplitter(), reply)
    assert [w.text for w in segments[1].words] == ["See", "the", "docs", "now."]
    docs = segments[1].words[2]
    assert reply[docs.start : docs.end] == "docs"


def test_whole_unspeakable_reply_gives_no_segments() -> None:
    splitter = ClauseSplitter()
    assert splitter.feed("```\ncode\n```\n  🎉 ") == []
    assert splitter.flush() == []


def test_splitter_is_ready_for_a_new_reply_after_flush() -> None:
    splitter = ClauseSplitter()
    first = feed_char_by_char(splitter, "Hello there, friend. Bye now.")
    second = feed_char_by_char(splitter, "Hello there, friend. Bye now.")
    assert first == second
    assert second[0].index == 0 and second[0].start == 0


def test_a_five_thousand_char_reply_fed_char_by_char_keeps_every_invariant() -> None:
    rng = random.Random(5)
    parts = ["Hello there, my friend.", "It costs $29.99 today!", "- item one", "\n", "\n\n"]
    parts += ["\n```py\nx = 1. y = 2\n```\n", "Dr. Who... and then?", "word " * 60, "😀"]
    reply = ""
    while len(reply) < 5000:
        reply += rng.choice(parts) + rng.choice([" ", "\n"])
    segments = feed_char_by_char(ClauseSplitter(), reply)
    assert_invariants(reply, segments)
    assert segments == feed_whole(ClauseSplitter(), reply)
    assert max(len(s.text.strip()) for s in segments) < 400


FRAGMENTS = [
    "Dr.", "e.g.", "U.S.", "3.5", "1,000", "10:30", "a.m.", "...", "…", "No.", "5", "J.",
    "**", "*", "_", "`", "```", "~~~", "\n```\n", "# ", "- ", "1. ", "[a](b.c)", "|",
    ". ", ", ", "; ", ": ", "! ", "? ", " — ", "\n", "\n\n", " ", "  ", "😀", "👍🏽", "❤️",
    "\u200d", "Hello", "world", "The", "it", "x" * 30,
]  # fmt: skip
replies = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    reply=replies,
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=30),
    first_min_words=st.integers(min_value=0, max_value=5),
    max_chars=st.integers(min_value=1, max_value=80),
)
def test_any_chunking_of_any_text_gives_the_segments_of_the_whole_feed(
    reply: str, cuts: list[int], first_min_words: int, max_chars: int
) -> None:
    def make() -> ClauseSplitter:
        return ClauseSplitter(first_min_words=first_min_words, max_chars=max_chars)

    whole = feed_whole(make(), reply)
    splitter = make()
    chunked: list[Segment] = []
    bounds = sorted({0, len(reply), *(c for c in cuts if c < len(reply))})
    for start, end in itertools.pairwise(bounds):
        chunked += splitter.feed(reply[start:end])
    last = splitter.flush()
    assert chunked + last == whole
    assert_invariants(reply, whole)
    if not whole or whole[-1].end < len(reply):
        assert last == []  # the uncovered tail is what flush() found unspeakable


def test_speech_has_no_emoji_or_symbols_left() -> None:
    reply = "Party 🎉🥳 time 👨‍👩‍👧‍👦 now ✨ ok ™ done."
    [segment] = feed_whole(ClauseSplitter(), reply)
    assert segment.speech == "Party time now ok done."
    assert not any(unicodedata.category(c) in {"So", "Sk", "Cf"} for c in segment.speech)


def test_later_segments_end_at_a_clause_once_they_have_clause_min_words() -> None:
    reply = "Sure, I can help. The flat has two bedrooms, a bright kitchen, and a balcony. Hi, you."
    splitter = ClauseSplitter(first_min_words=1, clause_min_words=5)
    texts = [s.text for s in splitter.feed(reply) + splitter.flush()]
    assert texts == [
        "Sure,",
        " I can help.",
        " The flat has two bedrooms,",
        " a bright kitchen, and a balcony.",
        " Hi, you.",
    ]


def test_without_clause_min_words_later_segments_wait_for_the_sentence_end() -> None:
    reply = "Sure, I can help. The flat has two bedrooms, a bright kitchen, and a balcony."
    splitter = ClauseSplitter(first_min_words=1)
    texts = [s.text for s in splitter.feed(reply) + splitter.flush()]
    assert texts == [
        "Sure,",
        " I can help.",
        " The flat has two bedrooms, a bright kitchen, and a balcony.",
    ]


def test_peek_names_the_sentence_a_space_after_its_period_would_release() -> None:
    splitter = ClauseSplitter(first_min_words=1)
    assert splitter.feed("The quick brown fox jumps over the lazy dog") == []
    assert splitter.peek() is None  # no boundary: a space would end only a word
    assert splitter.feed(".") == []
    likely = splitter.peek()
    assert likely is not None and likely.speech == "The quick brown fox jumps over the lazy dog."
    assert splitter.feed(" Then") == [likely]


def test_peek_names_nothing_where_a_space_would_not_cut() -> None:
    splitter = ClauseSplitter(first_min_words=1)
    splitter.feed("Dr.")  # an abbreviation: a space after it ends nothing
    assert splitter.peek() is None
    splitter.feed(" Smith has 3")
    assert splitter.peek() is None
    assert splitter.feed(" ") == []  # (after "Dr" the splitter waits for the sentence end)


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.id)
def test_peeking_after_every_char_changes_no_segment_and_names_the_next_one_when_a_space_follows(
    case: Case,
) -> None:
    splitter = ClauseSplitter(first_min_words=case.first_min_words, max_chars=case.max_chars)
    out: list[Segment] = []
    likely: Segment | None = None
    for char in case.reply:
        released = splitter.feed(char)
        if likely is not None and char in " \n":
            assert released == [likely]
        out += released
        likely = splitter.peek()
    assert out + splitter.flush() == split(case)


@settings(max_examples=300, deadline=None)
@given(
    reply=replies,
    first_min_words=st.integers(min_value=0, max_value=5),
    max_chars=st.integers(min_value=1, max_value=80),
)
def test_a_peeked_segment_is_the_one_released_by_a_following_space_in_any_text(
    reply: str, first_min_words: int, max_chars: int
) -> None:
    splitter = ClauseSplitter(first_min_words=first_min_words, max_chars=max_chars)
    whole = feed_whole(ClauseSplitter(first_min_words=first_min_words, max_chars=max_chars), reply)
    out: list[Segment] = []
    likely: Segment | None = None
    for char in reply:
        released = splitter.feed(char)
        if likely is not None and char in " \n":
            assert released == [likely]
        out += released
        likely = splitter.peek()
    assert out + splitter.flush() == whole


def test_peek_changes_nothing_in_the_splitter() -> None:
    # peek() works on a shallow copy: every field must be immutable for that to be whole.
    splitter = ClauseSplitter(first_min_words=1)
    splitter.feed("Hello there. It costs 3.")
    before = dict(vars(splitter))
    assert splitter.peek() is not None
    assert vars(splitter) == before
    assert all(isinstance(v, int | float | str | bool | tuple | None) for v in before.values())
