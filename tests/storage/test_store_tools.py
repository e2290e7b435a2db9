"""A reply's tool calls, stored with it on both backends."""

from __future__ import annotations

import pytest

from tests.storage.conftest import conversation
from voicewire.storage import Store

CALL = {
    "id": "call_1",
    "name": "search_properties",
    "arguments": '{"kind": "flat"}',
    "status": "ok",
    "content": '{"count": 3}',
    "at": 5,
}


async def test_a_reply_keeps_its_tool_calls_and_history_rows_return_them(store: Store) -> None:
    identity, conv = await conversation(store)
    await store.add_user_message(conv, "flats?", client_id=None, turn_id=1)
    reply = await store.begin_reply(conv, turn_id=1, spoken=False)
    await store.finish_reply(reply, text="Sure. Three.", status="complete", tools=[CALL])

    [_, stored] = await store.messages(identity, conv)
    assert stored.tools == [CALL]
    assert await store.history_rows(conv, 10) == [
        ("user", "flats?", []),
        ("assistant", "Sure. Three.", [CALL]),
    ]


async def test_a_tool_call_without_its_id_is_refused(store: Store) -> None:
    _, conv = await conversation(store)
    reply = await store.begin_reply(conv, turn_id=1, spoken=False)
    with pytest.raises(ValueError, match="tool calls"):
        await store.finish_reply(reply, text="x", status="complete", tools=[{"name": "n"}])
