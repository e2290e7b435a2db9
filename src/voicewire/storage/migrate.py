"""Alembic migrations, run from code: no alembic.ini, the config is built here."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import URL

from voicewire.storage.engine import ensure_sqlite_dir, normalize_url, render_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | URL, *, schema: str | None = None) -> Config:
    parsed = normalize_url(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # The config is a ConfigParser, which would read the '%' of URL-escaped passwords as
    # interpolation.
    config.set_main_option("sqlalchemy.url", render_url(parsed).replace("%", "%%"))
    config.attributes["schema"] = schema
    return config


def upgrade_sync(url: str | URL, *, schema: str | None = None, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision`; for CLIs.

    Blocking, and it runs its own event loop (`env.py` drives the async driver), so call it
    from a thread with no running loop — from async code, use `upgrade`.
    """
    parsed = normalize_url(url)
    ensure_sqlite_dir(parsed)
    command.upgrade(alembic_config(parsed, schema=schema), revision)


def downgrade_sync(url: str | URL, *, schema: str | None = None, revision: str = "base") -> None:
    """Migrate down to `revision` (by default, drop everything). Same rules as `upgrade_sync`."""
    command.downgrade(alembic_config(url, schema=schema), revision)


async def upgrade(url: str | URL, *, schema: str | None = None) -> None:
    """Migrate to head in a worker thread, so neither the event loop nor its driver blocks."""
    await asyncio.to_thread(upgrade_sync, url, schema=schema)
