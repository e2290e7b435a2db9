"""Conversation storage: SQLite by default, PostgreSQL in production, one asyncio code path.

`Store.open(url)` migrates the database (Alembic, `migrations/`) before handing out a store.
"""

from voicewire.storage.migrate import upgrade, upgrade_sync
from voicewire.storage.records import (
    ConversationInfo,
    IdentityConflict,
    MessageInfo,
    NotFound,
    StoreError,
)
from voicewire.storage.store import Store

__all__ = [
    "ConversationInfo",
    "IdentityConflict",
    "MessageInfo",
    "NotFound",
    "Store",
    "StoreError",
    "upgrade",
    "upgrade_sync",
]
