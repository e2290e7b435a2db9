"""Tools over /ws end to end: `tool.call` and `tool.result` events, and a barge-in during a tool."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import serve
from tests.server.test_persistence import wait_for_messages
from tests.waiting import until
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedToolLLM, call_pieces
from voicewire.protocol.messages import Data, TextDelta, ToolCall, ToolResult
from voicewire.responder import DataItem
from voicewire.server.app import create_app
from voicewire.tools import Toolbox, tool
from voicewire.tts.fake import FakeToneTTS

hold = asyncio.Event()  # never set: the `wait` tool runs until its turn is cancelled
cancelled: list[str] = []


@tool(visible=True)
async def search_properties(city: str, max_price: int) -> Any:
    """Find flats for rent in a city."""
    yield DataItem("propertyData", [{"id": 7, "city": city, "price": max_price - 150}])
    yield {"count": 1}


@tool
async def market_feed(city: str) -> dict[str, Any]:
    """Rent trends."""
    return {"city": city, "trend": "+2%"}


@tool
async def wait(seconds: int) -> str:
    try:
        await hold.wait()
    except asyncio.CancelledError:
        cancelled.append("wait")
        raise
    return "done"


STEPS = [
    [
        "Sure.",
        *call_pieces(
            0, "call_s", "search_properties", '{"city": "Bern", "max_price": 2000}', size=4
        ),
        *call_pieces(1, "call_m", "market_feed", '{"city": "Bern"}', size=5),
    ],
    ["One flat matches, and rents are up two percent."],
]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path_factory.mktemp("data"))
    llm = ScriptedToolLLM(STEPS)
    tools = Toolbox.of([search_properties, market_feed], bridge=None)
    with serve(create_app(settings, llm=llm, tts=FakeToneTTS(), tools=tools)) as base:
        yield base.replace("http", "ws") + "/ws"


async def test_a_turn_with_tools_sends_tool_call_and_tool_result_events(url: str) -> None:
    async with Client(url) as c:
        result = await c.ask("A flat in Bern under 2000?")
    events = [e for _, e in result.events]
    calls = [e for e in events if isinstance(e, ToolCall)]
    results = {e.call_id: e for e in events if isinstance(e, ToolResult)}
    assert [(c.call_id, c.name) for c in calls] == [
        ("call_s", "search_properties"),
        ("call_m", "market_feed"),
    ]
    assert calls[0].arguments == {"city": "Bern", "max_price": 2000}
    assert results["call_s"].status == results["call_m"].status == "ok"
    assert results["call_s"].result == {"count": 1}  # visible
    assert results["call_m"].result is None  # not visible: the client sees that it ran
    cards = [e for e in events if isinstance(e, Data)]
    assert cards[0].kind == "propertyData" and cards[0].payload[0]["city"] == "Bern"
    assert result.end is not None and result.end.status == "complete"
    assert result.end.text == "Sure.One flat matches, and rents are up two percent."


async def test_a_tool_call_event_has_the_fields_protocol_md_names(url: str) -> None:
    async with Client(url) as c:
        result = await c.ask("A flat in Bern under 2000?")
    call = next(e for _, e in result.events if isinstance(e, ToolCall))
    wire = json.loads(call.model_dump_json())
    assert wire.pop("seq") > 0
    assert wire == {
        "type": "tool.call",
        "turn_id": call.turn_id,
        "call_id": "call_s",
        "name": "search_properties",
        "arguments": {"city": "Bern", "max_price": 2000},
    }


async def test_a_barge_in_during_a_tool_cancels_it_and_the_turn_ends_interrupted(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path_factory.mktemp("data"))
    llm = ScriptedToolLLM([["Let me look."], ["never said"]])
    llm.steps[0] += call_pieces(0, "call_w", "wait", '{"seconds": 60}')
    app = create_app(settings, llm=llm, tts=FakeToneTTS(), tools=Toolbox.of([wait], bridge=None))
    with serve(app) as base:
        async with Client(base.replace("http", "ws") + "/ws") as c:
            assert c.ready is not None and c.ready.guest_token and c.ready.conversation_id
            token, conversation = c.ready.guest_token, c.ready.conversation_id
            seen: list[Any] = []
            asking = asyncio.create_task(c.ask("Wait for it", on_event=seen.append))
            await until(lambda: any(isinstance(e, ToolCall) for e in seen), "the tool call")
            turn = next(e for e in seen if isinstance(e, ToolCall)).turn_id
            await c.cancel(turn, played_ms=0)
            result = await asking
        stored = await wait_for_messages(base, conversation, token, lambda m: len(m) == 2)
    [call] = stored[1]["tools"]
    assert (call["id"], call["status"], stored[1]["status"]) == (
        "call_w",
        "cancelled",
        "interrupted",
    )
    assert result.end is not None and result.end.status == "interrupted"
    assert cancelled == ["wait"]
    assert not any(isinstance(e, ToolResult) for _, e in result.events)
    assert "never" not in "".join(e.text for _, e in result.events if isinstance(e, TextDelta))


async def test_the_history_api_shows_only_what_visible_tools_returned(url: str) -> None:
    async with Client(url) as c:
        assert c.ready is not None and c.ready.guest_token and c.ready.conversation_id
        token, conversation = c.ready.guest_token, c.ready.conversation_id
        await c.ask("A flat in Bern under 2000?")
    base = url.replace("ws", "http", 1).removesuffix("/ws")
    stored = await wait_for_messages(base, conversation, token, lambda m: len(m) == 2)
    calls = {call["name"]: call for call in stored[1]["tools"]}
    assert json.loads(calls["search_properties"]["content"]) == {"count": 1}  # visible
    assert "content" not in calls["market_feed"]  # what it returned stays server-side
    assert calls["market_feed"]["status"] == "ok"
