"""The seed's three reply kinds, ported to one responder, driven over a real server."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from examples.real_estate import MARKET_FEED, parse_search, respond, search

from tests.conftest import serve
from voicewire.client import Client, TurnResult
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.frames import AudioFrame
from voicewire.protocol.messages import Data, TextDelta
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS

LLM_REPLY = "Mortgage rates depend on your bank. Ask two or three lenders for a quote."


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path_factory.mktemp("data"))
    llm = ScriptedLLM(LLM_REPLY, tokens_per_second=200, first_token_ms=10)
    app = create_app(settings, llm=llm, tts=FakeToneTTS(), responder=respond)
    with serve(app) as base:
        yield base.replace("http", "ws") + "/ws"


async def ask(url: str, text: str) -> TurnResult:
    async with Client(url) as c:
        result = await c.ask(text)
    assert result.end is not None and result.end.status == "complete", result.errors
    return result


def assert_spoken(result: TurnResult) -> None:
    assert result.segments, "nothing was spoken"
    for start, end, pcm in result.segments:
        assert end is not None and end.samples == len(pcm) // 2
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        assert np.sqrt(np.mean(audio**2)) > 500, f"segment {start.segment_id} is silent"


async def test_a_property_search_sends_listing_cards_and_speaks_a_summary(url: str) -> None:
    result = await ask(url, "Can you find me a flat with two bedrooms under $2,000?")
    cards = [e for _, e in result.events if isinstance(e, Data)]
    assert [c.kind for c in cards] == ["propertyData"]
    listings = cards[0].payload
    assert len(listings) == 3
    assert all(x["bedrooms"] == 2 and x["price"] <= 2000 for x in listings)
    assert result.text.startswith("I found 3 flats with two bedrooms under $2,000.")
    assert "Maple Street Loft" in result.text, "the cheapest listing is named"
    assert_spoken(result)


async def test_the_cards_arrive_before_the_spoken_summary(url: str) -> None:
    result = await ask(url, "show me houses")
    kinds = [type(e) for _, e in result.events]
    assert kinds.index(Data) < kinds.index(TextDelta) < kinds.index(AudioFrame)


async def test_a_live_query_speaks_each_feed_item_in_order(url: str) -> None:
    result = await ask(url, "What's the latest on the market?")
    assert [s.text.strip() for s, _, _ in result.segments] == [i.strip() for i in MARKET_FEED]
    assert_spoken(result)


async def test_the_first_live_item_is_heard_before_the_feed_has_ended(url: str) -> None:
    result = await ask(url, "any live updates?")
    first_audio = next(t for t, e in result.events if isinstance(e, AudioFrame))
    last_text = max(t for t, e in result.events if isinstance(e, TextDelta))
    # The feed takes 3 x 0.25 s; its first item must be spoken while the rest is still coming.
    assert first_audio < last_text - 0.4


async def test_any_other_question_is_answered_by_the_llm(url: str) -> None:
    result = await ask(url, "How do mortgage rates work?")
    assert result.text == LLM_REPLY
    assert not any(isinstance(e, Data) for _, e in result.events)
    assert_spoken(result)


def test_a_search_query_is_parsed_into_kind_bedrooms_and_budget() -> None:
    assert parse_search("looking for a 3-bedroom house up to $2.5k") == {
        "kind": "house",
        "bedrooms": 3,
        "max_price": 2500,
    }
    assert parse_search("show me a two bedroom apartment under 1,900") == {
        "kind": "flat",
        "bedrooms": 2,
        "max_price": 1900,
    }
    assert parse_search("tell me a joke") is None


def test_a_search_with_no_match_finds_nothing() -> None:
    assert search("house", bedrooms=4, max_price=1000) == []
