"""Every storage test runs on SQLite (in tmp_path) and on a real PostgreSQL.

PostgreSQL comes from `VOICEWIRE_TEST_POSTGRES_URL` (default: the local `test` database). Each
test gets a fresh schema, put first on the `search_path`, dropped afterwards. Unreachable, its
tests are skipped — except in CI (`CI=true`), where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import Connection, make_url

from voicewire.storage import Store
from voicewire.storage.engine import ensure_sqlite_dir, make_engine, normalize_url

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

# Asked once per session: later tests skip at once instead of each waiting for a timeout.
_postgres_down: list[str] = []


@dataclass(frozen=True)
class Database:
    url: str
    schema: str | None = None


OpenStore = Callable[[], Awaitable[Store]]


def postgres_url() -> str:
    return os.environ.get("VOICEWIRE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


async def _postgres_connection() -> asyncpg.Connection:
    url = make_url(postgres_url()).set(drivername="postgresql")
    dsn = url.render_as_string(hide_password=False)
    if _postgres_down:
        _unavailable(_postgres_down[0])
    try:
        return await asyncpg.connect(dsn, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        _postgres_down.append(f"PostgreSQL at {url!r} unreachable: {exc!r}")
        _unavailable(_postgres_down[0])


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        yield Database(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'voicewire.db'}")
        return
    schema = f"vw_test_{uuid.uuid4().hex[:12]}"
    admin = await _postgres_connection()
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        yield Database(postgres_url(), schema)
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


@pytest.fixture
async def open_store(db: Database) -> AsyncIterator[OpenStore]:
    """Opens stores on the test database; whatever is still open is closed afterwards."""
    opened: list[Store] = []

    async def open_() -> Store:
        store = await Store.open(db.url, schema=db.schema)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: OpenStore) -> Store:
    return await open_store()


async def run_sync_on(db: Database, fn: Callable[[Connection], Any]) -> Any:
    """Run `fn(sync_connection)` on a throwaway connection to the test database."""
    ensure_sqlite_dir(normalize_url(db.url))
    engine = make_engine(db.url, schema=db.schema, pooled=False)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


async def conversation(store: Store, subject: str = "alice") -> tuple[str, str]:
    """A new conversation of the user `subject`: (identity id, conversation id)."""
    identity = await store.identity("user", subject)
    return identity, await store.new_conversation(identity, "chat")
