"""`Recorder` (server/persist.py) on both backends: a connection's rows, in the order of its turns.

Here rather than in tests/server/ because it needs this package's database fixtures (SQLite and
the real PostgreSQL); the socket-level counterpart is in tests/server/test_persistence.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from tests.storage.conftest import conversation
from voicewire.server import persist
from voicewire.server.persist import Recorder, Writes
from voicewire.storage import Store

# Longer than the start gate waits for a user message (RETRY_DELAYS_S[0], 100 ms).
SLOW_S = 0.15
WRITES = ("add_user_message", "begin_reply", "finish_reply", "fail_orphan")


def slowed(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """The store's `method` on a database that takes SLOW_S to answer."""

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(SLOW_S)  # the slowness itself, not a wait for an event
        return await method(*args, **kwargs)

    return slow


def slow_down(store: Store, monkeypatch: pytest.MonkeyPatch, names: tuple[str, ...]) -> None:
    for name in names:
        monkeypatch.setattr(store, name, slowed(getattr(store, name)))


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(persist, "RETRY_DELAYS_S", (0.01, 0.01))


class PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (ConnectionRefusedError("refused"), True),
        (OperationalError("INSERT", {}, Exception("database is locked")), True),
        (DBAPIError("INSERT", {}, PgError("57P03")), True),  # the database is starting up
        (DBAPIError("INSERT", {}, PgError("40001")), True),  # serialization failure
        (DBAPIError("INSERT", {}, PgError("53300")), True),  # too many connections
        # lock_timeout ran out (a migration's ALTER TABLE holds the table for a while)
        (DBAPIError("UPDATE", {}, PgError("55P03")), True),
        (DBAPIError("UPDATE", {}, PgError("55006")), False),  # object in use: not a wait
        (DBAPIError("INSERT", {}, PgError("22003")), False),  # numeric value out of range
        (IntegrityError("INSERT", {}, Exception("check")), False),
        (OverflowError("Python int too large to convert to SQLite INTEGER"), False),
        (ValueError("played_ms must be within 0..2147483647"), False),
    ],
)
def test_only_an_unavailable_database_is_worth_retrying(error: Exception, retry: bool) -> None:
    assert persist.transient(error) is retry


def rows(messages: list[Any]) -> list[tuple[str, str, str]]:
    return [(m.role, m.text, m.status) for m in messages]


@pytest.mark.parametrize("slow", [WRITES, ("begin_reply",)], ids=["every-write", "begin-reply"])
async def test_a_barge_in_is_stored_after_the_reply_it_interrupted_on_a_slow_database(
    store: Store, monkeypatch: pytest.MonkeyPatch, slow: tuple[str, ...]
) -> None:
    # Issue 15, defect 6: the second question's row was committed before the first reply's.
    identity, conv = await conversation(store)
    slow_down(store, monkeypatch, slow)
    writes = Writes()
    recorder = Recorder(store, writes, conv, node="n1")
    recorder.user_message("paint the kitchen", client_id="m1", turn_id=1, spoken=True)
    # The user interrupts before the first reply's row even exists.
    recorder.finish_reply(
        1, text="Sure, a bright", status="interrupted", played_ms=900, spoken=True, data=[]
    )
    recorder.user_message("make it blue", client_id="m2", turn_id=2, spoken=True)
    recorder.finish_reply(
        2, text="Blue it is.", status="complete", played_ms=None, spoken=True, data=[]
    )
    await writes.drain()

    assert rows(await store.messages(identity, conv)) == [
        ("user", "paint the kitchen", "complete"),
        ("assistant", "Sure, a bright", "interrupted"),
        ("user", "make it blue", "complete"),
        ("assistant", "Blue it is.", "complete"),
    ]
    assert await store.history(conv, 10) == [
        ("user", "paint the kitchen"),
        ("assistant", "Sure, a bright"),
        ("user", "make it blue"),
        ("assistant", "Blue it is."),
    ]


async def test_a_user_message_is_done_once_it_is_committed(store: Store) -> None:
    identity, conv = await conversation(store)
    writes = Writes()
    recorder = Recorder(store, writes, conv, node="n1")
    await recorder.user_message("hi", client_id="m1", turn_id=1, spoken=False)
    assert rows(await store.messages(identity, conv))[0] == ("user", "hi", "complete")
    await writes.drain()


async def test_cancelling_the_wait_for_a_user_message_does_not_cancel_its_write(
    store: Store,
) -> None:
    # As when the task awaiting it (a compat turn, a start gate) is cancelled by a barge-in.
    identity, conv = await conversation(store)
    writes = Writes()
    recorder = Recorder(store, writes, conv, node="n1")
    recorder.user_message("hi", client_id="m1", turn_id=1, spoken=False).cancel()
    await writes.drain()
    assert rows(await store.messages(identity, conv)) == [
        ("user", "hi", "complete"),
        ("assistant", "", "streaming"),
    ]


async def test_a_write_that_fails_for_good_does_not_stop_the_turns_after_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    identity, conv = await conversation(store)
    add = store.add_user_message
    failures = iter([OSError("database is down")] * 3)

    async def down_for_the_first_message(*args: Any, **kwargs: Any) -> str:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return await add(*args, **kwargs)

    monkeypatch.setattr(store, "add_user_message", down_for_the_first_message)
    writes = Writes()
    recorder = Recorder(store, writes, conv, node="n1")
    lost = recorder.user_message("lost", client_id="m1", turn_id=1, spoken=False)
    recorder.finish_reply(1, text="a", status="complete", played_ms=None, spoken=False, data=[])
    recorder.user_message("kept", client_id="m2", turn_id=2, spoken=False)
    recorder.finish_reply(2, text="b", status="complete", played_ms=None, spoken=False, data=[])
    await writes.drain()

    assert isinstance(lost.exception(), OSError)
    # No reply without its question: turn 1 left no row at all.
    assert rows(await store.messages(identity, conv)) == [
        ("user", "kept", "complete"),
        ("assistant", "b", "complete"),
    ]


async def test_while_the_database_is_down_queued_writes_are_tried_once_each(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Writes wait for each other: full retries for each during an outage would add up.
    identity, conv = await conversation(store)
    add, attempts = store.add_user_message, []
    down = True

    async def add_user_message(*args: Any, **kwargs: Any) -> str:
        attempts.append(args[1])
        if down:
            raise ConnectionRefusedError("database is down")
        return await add(*args, **kwargs)

    monkeypatch.setattr(store, "add_user_message", add_user_message)
    writes = Writes()
    recorder = Recorder(store, writes, conv, node="n1")
    recorder.user_message("one", client_id="m1", turn_id=1, spoken=False)
    recorder.user_message("two", client_id="m2", turn_id=2, spoken=False)
    await writes.drain()
    assert attempts == ["one"] * (1 + len(persist.RETRY_DELAYS_S)) + ["two"]

    down = False
    await recorder.user_message("three", client_id="m3", turn_id=3, spoken=False)
    await writes.drain()
    assert rows(await store.messages(identity, conv)) == [
        ("user", "three", "complete"),
        ("assistant", "", "streaming"),
    ]


async def test_a_played_ms_the_database_cannot_hold_still_ends_the_reply(store: Store) -> None:
    # Issue 15, defect 9: 2**63 raised an OverflowError, not retried; the reply stayed streaming.
    identity, conv = await conversation(store)
    writes = Writes()
    recorder = Recorder(store, writes, conv, node="n1")
    recorder.user_message("count", client_id="m1", turn_id=1, spoken=True)
    recorder.finish_reply(
        1, text="One two", status="interrupted", played_ms=2**63, spoken=True, data=[]
    )
    await writes.drain()

    _, reply = await store.messages(identity, conv)
    assert (reply.text, reply.status, reply.played_ms) == ("One two", "interrupted", None)


async def test_a_reply_that_cannot_be_closed_as_it_ended_is_stored_failed(store: Store) -> None:
    # A non-transient error that dropping played_ms does not cure: never left streaming.
    identity, conv = await conversation(store)
    writes = Writes()
    recorder = Recorder(store, writes, conv, node="n1")
    recorder.user_message("count", client_id="m1", turn_id=1, spoken=False)
    unstorable = [{"kind": "set", "payload": {1, 2}}]  # not JSON
    recorder.finish_reply(
        1, text="One", status="complete", played_ms=5, spoken=False, data=unstorable
    )
    await writes.drain()

    _, reply = await store.messages(identity, conv)
    assert reply.status == "failed"


async def test_an_orphaned_reply_failed_by_the_recorder_keeps_the_text_that_was_sent(
    store: Store,
) -> None:
    # Issue 15, defect 7: the client had "Sure, … a bright kitchen"; the row was failed and empty.
    identity, conv = await conversation(store)
    await store.add_user_message(conv, "paint it", client_id="m1", turn_id=1)
    await store.begin_reply(conv, turn_id=1, spoken=True, node="dead")
    writes = Writes()
    Recorder(store, writes, conv, node="n2").fail_orphan(1, "Sure, … a bright kitchen")
    await writes.drain()

    _, reply = await store.messages(identity, conv)
    assert (reply.text, reply.status) == ("Sure, … a bright kitchen", "failed")


async def test_another_process_start_up_sweep_leaves_a_recorders_live_reply_alone(
    store: Store,
) -> None:
    # The compat endpoint's recorder had no node: another worker starting up failed its replies.
    with pytest.raises(TypeError):
        Recorder(store, Writes(), "conversation")  # type: ignore[call-arg]
    identity, conv = await conversation(store)
    writes = Writes()
    recorder = Recorder(store, writes, conv, node="live")
    await recorder.user_message("count", client_id="m1", turn_id=1, spoken=False)
    await writes.drain()

    async def alive(node: str) -> bool:
        return node == "live"

    assert await store.fail_dangling(alive) == 0
    _, reply = await store.messages(identity, conv)
    assert reply.status == "streaming"
