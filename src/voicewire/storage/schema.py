"""The tables, as typed ORM classes. `migrations/versions/` must describe the same schema."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy import text as sql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

IdentityKind = Literal["guest", "user"]
Role = Literal["user", "assistant"]
Status = Literal["complete", "interrupted", "failed", "streaming"]
FinalStatus = Literal["complete", "interrupted", "failed"]

IDENTITY_KINDS: frozenset[str] = frozenset({"guest", "user"})
FINAL_STATUSES: frozenset[str] = frozenset({"complete", "interrupted", "failed"})

_clock_lock = threading.Lock()
_last_now = datetime.min.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """Aware UTC now, strictly increasing within the process.

    Messages are ordered by `created_at`; two inserted within the clock's resolution would
    otherwise tie and come back in arbitrary order.
    """
    global _last_now
    with _clock_lock:
        now = datetime.now(UTC)
        if now <= _last_now:
            now = _last_now + timedelta(microseconds=1)
        _last_now = now
        return now


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend; SQLite keeps no offset, so it is restored on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the store only takes aware UTC timestamps")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    # Fixed constraint names, so later migrations can drop or alter them on both backends.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Identity(Base):
    __tablename__ = "identities"
    __table_args__ = (CheckConstraint("kind IN ('guest', 'user')", name="kind"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[IdentityKind] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index(None, "identity_id", "updated_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    identity_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("identities.id", ondelete="CASCADE")
    )
    title: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("role IN ('user', 'assistant')", name="role"),
        CheckConstraint(
            "status IN ('complete', 'interrupted', 'failed', 'streaming')", name="status"
        ),
        CheckConstraint("played_ms IS NULL OR played_ms >= 0", name="played_ms"),
        # Leads with conversation_id, so it also serves lookups by conversation alone.
        Index(None, "conversation_id", "created_at"),
        # Startup looks for dangling replies; only a handful are ever 'streaming'.
        Index(
            "ix_messages_streaming",
            "status",
            sqlite_where=sql("status = 'streaming'"),
            postgresql_where=sql("status = 'streaming'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("conversations.id", ondelete="CASCADE")
    )
    role: Mapped[Role] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[Status] = mapped_column(String(16))
    spoken: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    played_ms: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, server_default=sql("'[]'")
    )
    # The reply's tool calls and results (voicewire.tools.ToolRun.record), in order.
    tools: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, server_default=sql("'[]'")
    )
    turn_id: Mapped[int | None] = mapped_column(Integer)
    client_id: Mapped[str | None] = mapped_column(String(255))
    # The server process generating a `streaming` reply (see Store.fail_dangling).
    node: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
