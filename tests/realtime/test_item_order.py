"""`/v1/realtime` conversation order: every `conversation.item.added` / `done` names the item
before it (`previous_item_id`, null for the first), function calls too, and
`conversation.item.create` may put an item after a given one (or first, with "root"); each
event checked against the openai SDK's own pydantic model."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import Any

import pytest
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from openai.types.realtime import ConversationItemAdded, ConversationItemDone

from tests.conftest import serve
from tests.realtime.test_function_tools import WEATHER, say_the_output
from tests.realtime.test_sdk import REPLY, RecordingLLM, ask, client, until
from voicewire.config import Settings
from voicewire.llm.base import ChatMessage
from voicewire.llm.scripted import ScriptedLLM, ScriptedToolLLM, Step, call_pieces
from voicewire.server.app import create_app
from voicewire.server.realtime_events import Item
from voicewire.server.realtime_state import Items
from voicewire.tts.fake import FakeToneTTS


def first_step(messages: Sequence[ChatMessage]) -> Step:
    """Asked "quietly", the model only calls the function; otherwise it says a few words first."""
    call = call_pieces(0, "call_1", "get_weather", '{"city": "Paris"}')
    user = next(m.content for m in reversed(messages) if m.role == "user")
    return call if "quietly" in user else ["Let me see.", *call]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    llm = ScriptedToolLLM([first_step, say_the_output])
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path_factory.mktemp("data"))
    with serve(create_app(settings, llm=llm, tts=FakeToneTTS())) as url:
        yield url


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, RecordingLLM]]:
    llm = RecordingLLM(ScriptedLLM(REPLY, tokens_per_second=400, first_token_ms=5))
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path_factory.mktemp("data"))
    with serve(create_app(settings, llm=llm, tts=FakeToneTTS())) as url:
        yield url, llm


def placed(events: list[Any]) -> list[tuple[str, str, str | None]]:
    """(event type, item id, previous_item_id) of each conversation.item.added / done, each
    validated by the SDK's model."""
    out = []
    for e in events:
        if e.type in ("conversation.item.added", "conversation.item.done"):
            model = ConversationItemAdded if e.type.endswith("added") else ConversationItemDone
            checked = model.model_validate(e.to_dict())
            assert "previous_item_id" in e.to_dict()  # null is said, not left out
            out.append(
                (e.type[len("conversation.item.") :], checked.item.id, checked.previous_item_id)
            )
    return out


def pairs(*chain: str | None) -> list[tuple[str, str, str | None]]:
    """The added and done events of each item of `chain[1:]`, each after the one before it."""
    out: list[tuple[str, str, str | None]] = []
    for previous, item in pairwise(chain):
        assert item is not None
        out += [("added", item, previous), ("done", item, previous)]
    return out


async def create(conn: AsyncRealtimeConnection, text: str, **where: Any) -> str:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    await conn.conversation.item.create(item=item, **where)  # type: ignore[arg-type]
    return str((await until(conn, "conversation.item.done"))[-1].item.id)


async def test_each_item_names_the_item_before_it_and_function_calls_do_too(base: str) -> None:
    async with client(base).realtime.connect(model="voicewire") as conn:
        await conn.recv()
        await conn.session.update(session={"type": "realtime", "tools": [WEATHER]})
        await until(conn, "session.updated")
        await ask(conn, "What's the weather in Paris?")
        said = await until(conn, "response.done")
        await conn.conversation.item.create(
            item={
                "type": "function_call_output",
                "call_id": "call_1",
                "output": json.dumps({"celsius": 21, "sky": "sunny"}),
            }
        )
        answered = await until(conn, "conversation.item.done")
        await conn.response.create()
        answered += await until(conn, "response.done")
        await ask(conn, "Ask it quietly")
        quiet = await until(conn, "response.done")
    user, message, call = (p[1] for p in placed(said)[::2])
    assert placed(said) == pairs(None, user, message, call)
    assert [o.type for o in said[-1].response.output] == ["message", "function_call"]
    output, reply = (p[1] for p in placed(answered)[::2])
    assert placed(answered) == pairs(call, output, reply)
    # Only a call: no message item, and the call follows the user's item.
    user2, call2 = (p[1] for p in placed(quiet)[::2])
    assert placed(quiet) == pairs(reply, user2, call2)
    assert [o.type for o in quiet[-1].response.output] == ["function_call"]


async def test_an_item_created_after_a_given_item_is_put_there_and_root_puts_it_first(
    recorded: tuple[str, RecordingLLM],
) -> None:
    base, llm = recorded
    async with client(base).realtime.connect(model="voicewire") as conn:
        await conn.recv()
        a = await create(conn, "A")
        c = await create(conn, "C")
        await conn.conversation.item.create(
            previous_item_id=a,
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "B"}],
            },
        )
        b_events = await until(conn, "conversation.item.done")
        await conn.conversation.item.create(
            previous_item_id="root",
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Z"}],
            },
        )
        z_events = await until(conn, "conversation.item.done")
        await conn.response.create()
        done = await until(conn, "response.done")
    b, z = b_events[-1].item.id, z_events[-1].item.id
    assert placed(b_events) == pairs(a, b)
    assert placed(z_events) == pairs(None, z)
    assert c not in (a, b, z)
    # The model hears them in the conversation's order; the reply follows the last of them.
    assert llm.seen[-1][-1].content == "Z\nA\nB\nC"
    assert [p[2] for p in placed(done)] == [c, c]


async def test_an_item_created_after_an_item_the_session_does_not_have_is_refused(
    recorded: tuple[str, RecordingLLM],
) -> None:
    base, _ = recorded
    async with client(base).realtime.connect(model="voicewire") as conn:
        await conn.recv()
        await conn.conversation.item.create(
            event_id="ev_lost",
            previous_item_id="item_nowhere",
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "B"}],
            },
        )
        answer = await conn.recv()  # an error, not conversation.item.added
        assert answer.type == "error"
        refused = answer.error
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "A"}],
            }
        )
        after = await until(conn, "conversation.item.done")
    assert (refused.code, refused.param, refused.event_id) == (
        "item_not_found",
        "previous_item_id",
        "ev_lost",
    )
    assert placed(after) == pairs(None, after[-1].item.id)  # the refused item was not added


def test_an_item_put_into_a_full_session_forgets_the_oldest_and_says_its_true_neighbour() -> None:
    items = Items(3)
    a, b, c, d, e = (Item(n, "user", "input_text", n) for n in "abcde")
    assert [items.add(a), items.add(b), items.add(c)] == [None, "a", "b"]
    assert items.add(d, "b") == "b"  # "a" is forgotten
    assert [i.id for i in items.items] == ["b", "d", "c"]
    assert items.add(e, "b") is None  # after "b", which the full session forgets: first
    assert [i.id for i in items.items] == ["e", "d", "c"]
    assert items.before(c) == "d" and not items.placeable("b") and items.placeable("root")
