"""Database URLs and async engines, set up the same way for the store and for migrations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import URL, event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

# Plain URLs name the sync drivers; the store only runs on the asyncio ones.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
}
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def normalize_url(url: str | URL) -> URL:
    """The URL with an asyncio driver (`sqlite://` → aiosqlite, `postgresql://` → asyncpg)."""
    parsed = make_url(url)
    parsed = parsed.set(drivername=_ASYNC_DRIVERS.get(parsed.drivername, parsed.drivername))
    # Migrations run on their own connection, so an in-memory database would vanish with it.
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ValueError("SQLite needs a file path, e.g. sqlite+aiosqlite:///data/voicewire.db")
    return parsed


def render_url(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def sqlite_path(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or url.database is None:
        return None
    return Path(url.database).expanduser()


def ensure_sqlite_dir(url: URL) -> None:
    """Create the database file's directory, so the first run needs no setup. Blocking."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers run alongside the writer; NORMAL skips an fsync per commit, which in
        # WAL mode risks only the last commits on power loss, never corruption.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        # SQLite ignores foreign keys unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def make_engine(url: str | URL, *, schema: str | None = None, pooled: bool = True) -> AsyncEngine:
    """An async engine; `schema` (PostgreSQL + asyncpg only) becomes the `search_path`."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        if schema is not None:
            raise ValueError("schema is only supported on PostgreSQL")
        engine = (
            create_async_engine(parsed)
            if pooled
            else create_async_engine(parsed, poolclass=NullPool)
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if schema is not None:
        if parsed.drivername != "postgresql+asyncpg":
            raise ValueError("schema is only supported with postgresql+asyncpg")
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"invalid schema name: {schema!r}")
        connect_args["server_settings"] = {"search_path": schema}
    if not pooled:
        return create_async_engine(parsed, poolclass=NullPool, connect_args=connect_args)
    return create_async_engine(
        parsed,
        pool_size=5,
        max_overflow=10,
        # A server restart or idle timeout drops pooled connections; test before handing out.
        pool_pre_ping=True,
        connect_args=connect_args,
    )
