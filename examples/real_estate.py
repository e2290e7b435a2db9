"""The seed's real-estate chatbot as one voicewire responder whose LLM calls two tools.

The seed hand-codes three reply kinds in its socket loop and picks one by keywords; here the
model picks: it calls `search_properties` with structured arguments ("a two-bedroom flat under
2,000" → kind="flat", bedrooms=2, max_price=2000) or `market_feed`, or just answers. The search
sends the seed's `propertyData` cards to the client as `DataItem`s and tells the model what it
found, which the model then says; voicewire does the speech, the transport and the storage.

Run it: `voicewire serve --app examples.real_estate:respond` (from the repository root), with
an LLM that can call tools (`--llm openai` and a function-calling model). The embedded SmolLM2
cannot call tools: with it the app answers as a plain chatbot (see docs/apps.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated, Any, Literal

from pydantic import Field

from voicewire.responder import DataItem, TurnContext
from voicewire.tools import Toolbox, ToolEvent, tool

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

MARKET_FEED = (
    "Average rents in the centre rose two percent this week.",
    "Two new flats were listed on Maple Street in the last hour.",
    "A three bedroom house by the river was just reduced to $2,400.",
)
FEED_INTERVAL_S = 0.25


@tool(visible=True)
async def search_properties(
    kind: Literal["flat", "house"],
    bedrooms: Annotated[int | None, Field(ge=0, le=10)] = None,
    max_price: Annotated[int | None, Field(ge=0, description="monthly rent, in dollars")] = None,
) -> AsyncGenerator[Any, None]:
    """Search the listings for rent; the user sees them as cards, so only summarize them."""
    found = search(kind, bedrooms, max_price)
    yield DataItem("propertyData", found)
    yield {
        "count": len(found),
        "cheapest": {k: found[0][k] for k in ("title", "price")} if found else None,
    }


@tool
async def market_feed() -> AsyncGenerator[Any, None]:
    """The live market news of the city (a stand-in for the seed's `real_time_data`)."""
    for i, item in enumerate(MARKET_FEED):
        if i:
            await asyncio.sleep(FEED_INTERVAL_S)
        yield DataItem("marketFeed", {"item": item})
    yield {"news": list(MARKET_FEED)}


TOOLS = Toolbox.of([search_properties, market_feed], bridge="Let me check.")


async def respond(ctx: TurnContext) -> AsyncGenerator[str | DataItem | ToolEvent, None]:
    """The reply to one user message: the LLM, calling the tools as it sees fit."""
    async with aclosing(ctx.reply(TOOLS)) as items:
        async for item in items:
            yield item


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
