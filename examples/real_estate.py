"""The seed's real-estate chatbot as one voicewire responder.

The seed hand-codes three reply kinds in its socket loop; here each is a branch of `respond`
and voicewire does the speech, the transport and the storage:

* a property search → a `propertyData` card payload, then a short spoken summary;
* a live / market question → a live feed whose items are spoken one by one as they arrive;
* anything else → the configured LLM.

Run it: `voicewire serve --app examples.real_estate:respond` (from the repository root).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from voicewire.responder import DataItem, TurnContext

LISTINGS: list[dict[str, Any]] = [
    {"id": 1, "title": "Maple Street Loft", "address": "12 Maple Street", "kind": "flat",
     "bedrooms": 2, "price": 1650, "features": ["balcony", "elevator"]},
    {"id": 2, "title": "Park View Apartment", "address": "4 Park Avenue", "kind": "flat",
     "bedrooms": 2, "price": 1850, "features": ["park view", "laundry"]},
    {"id": 3, "title": "Station Square Flat", "address": "88 Station Square", "kind": "flat",
     "bedrooms": 2, "price": 1990, "features": ["near the station", "bike room"]},
    {"id": 4, "title": "Riverside Studio", "address": "3 River Lane", "kind": "flat",
     "bedrooms": 1, "price": 1200, "features": ["river view"]},
    {"id": 5, "title": "Old Town Duplex", "address": "21 Castle Road", "kind": "flat",
     "bedrooms": 3, "price": 2600, "features": ["two bathrooms", "terrace"]},
    {"id": 6, "title": "Garden House", "address": "7 Elm Close", "kind": "house",
     "bedrooms": 3, "price": 2400, "features": ["garden", "garage"]},
    {"id": 7, "title": "Hillside Family Home", "address": "45 Hill Road", "kind": "house",
     "bedrooms": 4, "price": 3200, "features": ["garden", "two garages", "fireplace"]},
    {"id": 8, "title": "Canal Cottage", "address": "2 Lock Street", "kind": "house",
     "bedrooms": 2, "price": 1900, "features": ["canal view", "wood stove"]},
]  # fmt: skip

# Each item ends with a sentence end and a space: the clause splitter cuts a segment only once
# it has seen the char after the boundary, so each item is spoken as soon as it arrives.
MARKET_FEED = (
    "Here is the live market feed for the city. ",
    "Average rents in the centre rose two percent this week. ",
    "Two new flats were listed on Maple Street in the last hour. ",
    "A three bedroom house by the river was just reduced to $2,400. ",
)
FEED_INTERVAL_S = 0.25

NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "a": 1, "single": 1}
WORDS = {n: w for w, n in NUMBERS.items() if w not in ("a", "single")}
KINDS = {"flat": "flat", "apartment": "flat", "studio": "flat", "house": "house", "home": "house"}

_KIND = re.compile(r"\b(flat|apartment|studio|house|home)s?\b")
_BEDROOMS = re.compile(r"\b(\d+|one|two|three|four|five|a|single)[ -]bed(?:room)?s?\b")
_UNDER = re.compile(r"\b(?:under|below|less than|up to|max(?:imum)?) \$?(\d[\d,]*(?:\.\d+)?)(k?)\b")
_SEARCH = re.compile(r"\b(find|show|search|look(?:ing)? for|list|any|want|need|rent)\b")
_LIVE = re.compile(r"\b(live|real[- ]?time|latest|market)\b")


async def respond(ctx: TurnContext) -> AsyncGenerator[str | DataItem, None]:
    """The reply to one user message: a search, the live feed, or the LLM."""
    text = ctx.text.lower()
    if _LIVE.search(text):
        async with aclosing(market_feed()) as feed:
            async for item in feed:
                yield item
    elif (query := parse_search(text)) is not None:
        found = search(**query)
        yield DataItem("propertyData", found)
        yield summarize(found, **query)
    else:
        async with aclosing(ctx.llm_stream()) as deltas:
            async for delta in deltas:
                yield delta


def parse_search(text: str) -> dict[str, Any] | None:
    """`{"kind", "bedrooms", "max_price"}` when `text` asks for properties, else None."""
    kind = _KIND.search(text)
    bedrooms = _BEDROOMS.search(text)
    under = _UNDER.search(text)
    if kind is None or not (_SEARCH.search(text) or bedrooms or under):
        return None
    max_price = None
    if under is not None:
        amount = float(under.group(1).replace(",", ""))
        max_price = round(amount * (1000 if under.group(2) else 1))
    return {
        "kind": KINDS[kind.group(1)],
        "bedrooms": None if bedrooms is None else _number(bedrooms.group(1)),
        "max_price": max_price,
    }


def search(
    kind: str, bedrooms: int | None = None, max_price: int | None = None
) -> list[dict[str, Any]]:
    """The listings that match, cheapest first."""
    found = [
        listing
        for listing in LISTINGS
        if listing["kind"] == kind
        and (bedrooms is None or listing["bedrooms"] == bedrooms)
        and (max_price is None or listing["price"] <= max_price)
    ]
    return sorted(found, key=lambda listing: int(listing["price"]))


def summarize(
    found: list[dict[str, Any]], kind: str, bedrooms: int | None, max_price: int | None
) -> str:
    """A short spoken summary: the cards carry the details."""
    what = f"{kind}s" if len(found) != 1 else kind
    if bedrooms is not None:
        what += f" with {WORDS.get(bedrooms, str(bedrooms))} bedroom{'s' * (bedrooms != 1)}"
    if max_price is not None:
        what += f" under ${max_price:,}"
    if not found:
        return f"I couldn't find any {what}. Try a higher budget or fewer bedrooms."
    cheapest = found[0]
    return (
        f"I found {len(found)} {what}. The cheapest is {cheapest['title']} "
        f"at ${cheapest['price']:,} a month."
    )


async def market_feed() -> AsyncGenerator[str, None]:
    """A stand-in for the seed's `real_time_data`: items arrive one by one, over time."""
    for i, item in enumerate(MARKET_FEED):
        if i:
            await asyncio.sleep(FEED_INTERVAL_S)
        yield item


def _number(word: str) -> int:
    return int(word) if word.isdigit() else NUMBERS[word]
