"""The real-estate example: the model calls its tools; driven over a real server.

The LLM is the scripted tool-calling one (a test engine): it calls the tools as a
function-calling model would, with the arguments a model would extract from the question.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from examples.real_estate import MARKET_FEED, TOOLS, respond, search

from tests.conftest import serve
from voicewire.client import Client, TurnResult
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedToolLLM, Step, call_pieces
from voicewire.protocol.messages import Data, TextDelta, ToolCall, ToolResult
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS

SEARCH = call_pieces(
    0, "call_1", "search_properties", '{"kind": "flat", "bedrooms": 2, "max_price": 2000}'
)
SUMMARY = "I found three flats. The cheapest is the Maple Street Loft at $1,650 a month."


@contextmanager
def served(steps: list[Step], tmp_path_factory: object) -> Iterator[tuple[str, ScriptedToolLLM]]:
    llm = ScriptedToolLLM(steps)
    settings = Settings(llm="scripted", tts="fake", persist=False)
    app = create_app(settings, llm=llm, tts=FakeToneTTS(), responder=respond)
    with serve(app) as base:
        yield base.replace("http", "ws") + "/ws", llm


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


async def test_a_property_search_is_a_tool_call_whose_cards_reach_the_client() -> None:
    with served([SEARCH, [SUMMARY]], None) as (url, llm):
        result = await ask(url, "Can you find me a flat with two bedrooms under $2,000?")
    events = [e for _, e in result.events]
    cards = [e for e in events if isinstance(e, Data)]
    assert [c.kind for c in cards] == ["propertyData"]
    assert [x["title"] for x in cards[0].payload] == [
        "Maple Street Loft",
        "Park View Apartment",
        "Station Square Flat",
    ]
    call = next(e for e in events if isinstance(e, ToolCall))
    assert call.arguments == {"kind": "flat", "bedrooms": 2, "max_price": 2000}
    told = json.loads(next(m.content for m in llm.seen[1][0] if m.role == "tool"))
    assert told == {"count": 3, "cheapest": {"title": "Maple Street Loft", "price": 1650}}
    assert result.text == SUMMARY
    kinds = [type(e) for e in events]
    assert kinds.index(Data) < kinds.index(ToolResult) < kinds.index(TextDelta)
    assert_spoken(result)


async def test_arguments_outside_the_schema_are_sent_back_to_the_model() -> None:
    bad = call_pieces(0, "c", "search_properties", '{"kind": "castle"}')
    with served([bad, ["I can only search flats and houses."]], None) as (url, llm):
        result = await ask(url, "find me a castle")
    assert not any(isinstance(e, Data) for _, e in result.events)
    told = json.loads(next(m.content for m in llm.seen[1][0] if m.role == "tool"))
    assert "kind" in told["error"]


async def test_the_market_feed_items_reach_the_client_as_they_arrive() -> None:
    feed = call_pieces(0, "m", "market_feed", "{}")
    with served([feed, ["Rents rose two percent this week."]], None) as (url, _):
        result = await ask(url, "What's the latest on the market?")
    events = [e for _, e in result.events]
    items = [e for e in events if isinstance(e, Data)]
    assert [e.payload["item"] for e in items] == list(MARKET_FEED)
    ended = next(i for i, e in enumerate(events) if isinstance(e, ToolResult))
    assert all(events.index(e) < ended for e in items), "each item is sent as the tool yields it"
    assert result.text == "Rents rose two percent this week."
    assert_spoken(result)


def test_the_tools_are_described_to_the_model_with_their_arguments() -> None:
    search_schema, feed_schema = TOOLS.schemas()
    parameters = search_schema["function"]["parameters"]
    assert parameters["required"] == ["kind"]
    assert set(parameters["properties"]) == {"kind", "bedrooms", "max_price"}
    assert parameters["properties"]["kind"]["enum"] == ["flat", "house"]
    assert feed_schema["function"]["name"] == "market_feed"


def test_a_search_with_no_match_finds_nothing() -> None:
    assert search("house", bedrooms=4, max_price=1000) == []
