"""How the store's engine talks to PostgreSQL: a statement is bounded, never waits forever."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.storage.conftest import Database, _postgres_connection, conversation
from voicewire.storage import Store
from voicewire.storage.engine import Timeouts, make_engine

# Only turns a hang into a failure: far above any honest run on a busy machine.
GUARD_S = 30.0
postgres_only = pytest.mark.parametrize("db", ["postgres"], indirect=True)


async def outcome(write: Coroutine[Any, Any, Any]) -> BaseException | None:
    """The write's error (None if it succeeded); a failure if it is still waiting at GUARD_S."""
    task = asyncio.create_task(write)
    await asyncio.wait([task], timeout=GUARD_S)
    if not task.done():
        task.cancel()
        await asyncio.wait([task])
        raise AssertionError(f"the write still waited after {GUARD_S:g} s")
    return task.exception()


class RowLock:
    """Another session's transaction holding a row's lock until the test releases it."""

    def __init__(self, db: Database, connection: asyncpg.Connection) -> None:
        self.db, self.connection = db, connection

    async def take(self, message_id: str) -> None:
        await self.connection.execute(f'SET search_path TO "{self.db.schema}"')
        await self.connection.execute("BEGIN")
        await self.connection.execute("SELECT 1 FROM messages WHERE id = $1 FOR UPDATE", message_id)

    async def release(self) -> None:
        await self.connection.execute("ROLLBACK")


@pytest.fixture
async def row_lock(db: Database) -> AsyncIterator[RowLock]:
    connection = await _postgres_connection()
    try:
        yield RowLock(db, connection)
    finally:
        await connection.close()


async def streaming_reply(store: Store) -> str:
    _, conv = await conversation(store)
    return await store.begin_reply(conv, turn_id=1, spoken=False)


@postgres_only
async def test_a_write_blocked_by_a_row_lock_fails_after_the_lock_timeout(
    db: Database, row_lock: RowLock
) -> None:
    # With no bound, a write behind a row lock nobody releases waited forever, and held the
    # server's shutdown (which drains the writes) with it.
    timeouts = Timeouts(lock_s=0.05, command_s=None)
    async with await Store.open(db.url, schema=db.schema, timeouts=timeouts) as store:
        reply = await streaming_reply(store)
        await row_lock.take(reply)
        error = await outcome(store.finish_reply(reply, text="Hi.", status="complete"))
        assert isinstance(error, DBAPIError), error
        assert getattr(error.orig, "sqlstate", None) == "55P03"  # lock_not_available
        assert "lock timeout" in str(error)
        await row_lock.release()  # the lock is gone: the same store writes again
        assert await outcome(store.finish_reply(reply, text="Hi.", status="complete")) is None


@postgres_only
async def test_a_statement_that_does_not_answer_fails_after_the_command_timeout(
    db: Database, row_lock: RowLock
) -> None:
    # The client-side bound also covers what lock_timeout does not: any statement the
    # server does not answer in time (here, one behind the lock, with no lock timeout). Only
    # that statement runs under the short bound: the reply is made by a store with the default
    # bounds, and the bounded connection has answered a statement before the lock is taken.
    async with await Store.open(db.url, schema=db.schema) as store:
        reply = await streaming_reply(store)
    bounded = Timeouts(lock_s=None, command_s=0.2)
    engine = make_engine(db.url, schema=db.schema, pooled=False, timeouts=bounded)
    update = text("UPDATE messages SET text = :text WHERE id = :id")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await row_lock.take(reply)
            error = await outcome(connection.execute(update, {"text": "Hi.", "id": reply}))
            assert isinstance(error, TimeoutError), error
        await row_lock.release()
        async with engine.begin() as connection:  # the lock is gone: the same engine writes
            assert await outcome(connection.execute(update, {"text": "Hi.", "id": reply})) is None
    finally:
        await engine.dispose()


@postgres_only
async def test_a_store_opened_with_no_timeouts_given_has_the_default_bounds(db: Database) -> None:
    store = await Store.open(db.url, schema=db.schema)
    async with store, store._engine.connect() as connection:
        lock = (await connection.exec_driver_sql("SHOW lock_timeout")).scalar()
    assert Timeouts().lock_s == 10.0 and lock == "10s"
