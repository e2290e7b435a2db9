"""Database URLs and async engines, set up the same way for the store and for migrations."""

from __future__ import annotations

import re
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Bounds on one PostgreSQL statement (asyncpg), in seconds; None: unbounded.

    Unbounded, a statement behind a row lock nobody releases waits forever, and with it the
    connection's turn, a handshake, or the server's shutdown (which drains pending writes).
    `lock_s` bounds the wait for a lock (the server's `lock_timeout`: the statement fails with
    SQLSTATE 55P03); `command_s` the whole statement as the client sees it (asyncpg's
    `command_timeout`: it cancels the statement and raises `TimeoutError`), which also covers
    a server that stopped answering.
    """

    lock_s: float | None = 10.0
    command_s: float | None = 30.0

    def connect_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.command_s is not None:
            args["command_timeout"] = self.command_s
        if self.lock_s is not None:  # in whole ms: 0 would turn it off
            args["server_settings"] = {"lock_timeout": f"{max(1, round(self.lock_s * 1000))}ms"}
        return args


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


def make_engine(
    url: str | URL,
    *,
    schema: str | None = None,
    pooled: bool = True,
    timeouts: Timeouts | None = None,
) -> AsyncEngine:
    """An async engine; `schema` (PostgreSQL + asyncpg only) becomes the `search_path`.

    `timeouts` bound each statement on PostgreSQL + asyncpg (SQLite has its `busy_timeout`).
    """
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
    asyncpg = parsed.drivername == "postgresql+asyncpg"
    connect_args = timeouts.connect_args() if timeouts is not None and asyncpg else {}
    if schema is not None:
        if not asyncpg:
            raise ValueError("schema is only supported with postgresql+asyncpg")
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"invalid schema name: {schema!r}")
        connect_args["server_settings"] = {
            **connect_args.get("server_settings", {}),
            "search_path": schema,
        }
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
