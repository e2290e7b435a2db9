"""Alembic migrations on both backends, and how SQLite is set up."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from tests.storage.conftest import Database, OpenStore, conversation, run_sync_on
from voicewire.storage import Store
from voicewire.storage.engine import make_engine
from voicewire.storage.migrate import downgrade_sync, upgrade
from voicewire.storage.schema import Base

TABLES = {"alembic_version", "conversations", "identities", "messages"}


def schema_state(connection: Connection) -> tuple[set[str], str | None]:
    version = None
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" in tables:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return tables, version


async def test_migrations_create_the_schema_on_an_empty_database(db: Database) -> None:
    assert await run_sync_on(db, schema_state) == (set(), None)
    await upgrade(db.url, schema=db.schema)
    assert await run_sync_on(db, schema_state) == (TABLES, "0003")


async def test_opening_a_database_twice_is_idempotent_and_keeps_its_data(
    open_store: OpenStore,
) -> None:
    first = await open_store()
    identity, conv = await conversation(first)
    await first.add_user_message(conv, "hello", client_id="c1", turn_id=1)
    await first.close()

    second = await open_store()
    third = await open_store()
    assert [m.text for m in await third.messages(identity, conv)] == ["hello"]
    assert await second.list_conversations(identity) == await third.list_conversations(identity)


async def test_the_migration_matches_the_orm_models(db: Database) -> None:
    await upgrade(db.url, schema=db.schema)

    def diff(connection: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    assert await run_sync_on(db, diff) == []


async def test_migrations_downgrade_to_nothing_and_upgrade_again(db: Database) -> None:
    await upgrade(db.url, schema=db.schema)
    await asyncio.to_thread(downgrade_sync, db.url, schema=db.schema)
    assert await run_sync_on(db, schema_state) == ({"alembic_version"}, None)
    await upgrade(db.url, schema=db.schema)
    assert await run_sync_on(db, schema_state) == (TABLES, "0003")


async def test_sqlite_creates_its_directory_and_runs_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "nested" / "voicewire.db"
    url = f"sqlite+aiosqlite:///{path}"
    async with await Store.open(url) as store:
        await conversation(store)

    def pragmas(connection: Connection) -> tuple[Any, ...]:
        journal = connection.execute(text("PRAGMA journal_mode")).scalar()
        synchronous = connection.execute(text("PRAGMA synchronous")).scalar()
        foreign_keys = connection.execute(text("PRAGMA foreign_keys")).scalar()
        return journal, synchronous, foreign_keys

    assert path.is_file()
    assert await run_sync_on(Database(url), pragmas) == ("wal", 1, 1)


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(ValueError, match="file path"):
        make_engine("sqlite+aiosqlite://")
