"""Data items an app yields: what JSON cannot encode is the app's error, not the session's end."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import serve
from tests.server.test_persistence import wait_for_messages
from tests.tools.test_loop import told, turn_of
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.llm.scripted import call_pieces
from voicewire.protocol.messages import Data, Error
from voicewire.responder import DataItem, TurnContext
from voicewire.server.app import create_app
from voicewire.tools import tool
from voicewire.tts.fake import FakeToneTTS

WHEN = datetime.datetime(2026, 12, 2, 9, 30, tzinfo=datetime.UTC)


class Listing:
    """An app's own object, which JSON cannot encode."""


BAD: dict[str, Any] = {"an object": Listing(), "bytes that are not UTF-8": b"\xff\xfe"}


@pytest.mark.parametrize("what", sorted(BAD))
async def test_a_data_item_json_cannot_encode_is_an_error_for_its_turn_and_the_session_goes_on(
    tmp_path: Path, what: str
) -> None:
    async def responder(ctx: TurnContext) -> AsyncIterator[str | DataItem]:
        yield "Here are the flats. "
        yield DataItem("propertyData", {"listing": BAD[what]})
        yield DataItem("propertyData", [{"id": 7}])
        yield "That is all."

    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path)
    app = create_app(settings, tts=FakeToneTTS(), responder=responder)
    with serve(app) as base:
        async with Client(base.replace("http", "ws") + "/ws") as c:
            assert c.ready is not None and c.ready.guest_token and c.ready.conversation_id
            token, conversation = c.ready.guest_token, c.ready.conversation_id
            async with asyncio.timeout(20):  # a guard: on failure the connection breaks
                first = await c.ask("Flats?")
                second = await c.ask("Again?")
        stored = await wait_for_messages(
            base, conversation, token, lambda m: len(m) == 4 and m[3]["status"] != "streaming"
        )
    for result in (first, second):
        events = [e for _, e in result.events]
        errors = [e for e in events if isinstance(e, Error)]
        assert [(e.code, e.turn_id) for e in errors] == [("unencodable_data", result.end.turn_id)]
        assert "propertyData" in errors[0].message
        assert [e.payload for e in events if isinstance(e, Data)] == [[{"id": 7}]]
        assert result.end.status == "complete"
        assert result.end.text == "Here are the flats. That is all."
    assert stored[1]["data"] == [{"kind": "propertyData", "payload": [{"id": 7}]}]
    assert stored[1]["status"] == "complete"


async def test_a_data_item_with_a_datetime_or_a_set_is_sent_and_stored_as_json(
    tmp_path: Path,
) -> None:
    async def responder(ctx: TurnContext) -> AsyncIterator[str | DataItem]:
        yield "Viewings. "
        yield DataItem("viewings", {"at": WHEN, "rooms": {2}})

    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path)
    app = create_app(settings, tts=FakeToneTTS(), responder=responder)
    with serve(app) as base:
        async with Client(base.replace("http", "ws") + "/ws") as c:
            assert c.ready is not None and c.ready.guest_token and c.ready.conversation_id
            token, conversation = c.ready.guest_token, c.ready.conversation_id
            async with asyncio.timeout(20):  # a guard: on failure the connection breaks
                result = await c.ask("When?")
        stored = await wait_for_messages(
            base, conversation, token, lambda m: len(m) == 2 and m[1]["status"] != "streaming"
        )
    payload = {"at": "2026-12-02T09:30:00Z", "rooms": [2]}
    assert [e.payload for _, e in result.events if isinstance(e, Data)] == [payload]
    assert stored[1]["data"] == [{"kind": "viewings", "payload": payload}]
    assert stored[1]["status"] == "complete"


async def test_a_tool_data_item_json_cannot_encode_is_dropped_and_the_tool_goes_on() -> None:
    @tool
    async def cards() -> Any:
        yield DataItem("propertyData", Listing())
        yield DataItem("propertyData", [{"id": 7}])
        yield {"count": 1}

    turn, emitted, llm = turn_of([call_pieces(0, "c", "cards", "{}"), ["One flat."]], cards)
    await turn.run()
    assert [(e.code, e.turn_id) for e in emitted if isinstance(e, Error)] == [
        ("unencodable_data", 1)
    ]
    assert turn.data == [DataItem("propertyData", [{"id": 7}])]
    assert told(llm) == [{"count": 1}] and turn.tools[0].status == "ok"
    assert turn.status == "complete" and turn.text == "One flat."
