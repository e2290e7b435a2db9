"""`Store`: conversations on SQLite or PostgreSQL, through one asyncio code path."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Self

from sqlalchemy import Update, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from voicewire.storage.engine import Timeouts, ensure_sqlite_dir, make_engine, normalize_url
from voicewire.storage.migrate import upgrade
from voicewire.storage.records import (
    ConversationInfo,
    IdentityConflict,
    MessageInfo,
    NotFound,
    StoreError,
    reply_values,
)
from voicewire.storage.schema import (
    IDENTITY_KINDS,
    Conversation,
    FinalStatus,
    Identity,
    IdentityKind,
    Message,
    Role,
    new_id,
    utcnow,
)

Alive = Callable[[str], Awaitable[bool]]  # is this server process (node) still running?
DEFAULT_TIMEOUTS = Timeouts()


class Store:
    """Every method commits before it returns; none blocks the event loop."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # SQLite has a single writer: queueing writers here is cheaper than having them sleep
        # and retry in SQLite's busy handler.
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        migrate: bool = True,
        schema: str | None = None,
        alive: Alive | None = None,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
    ) -> Store:
        """Connect, migrate to head, and mark replies left `streaming` by a dead server `failed`.

        `schema` (PostgreSQL only) puts every table in that existing schema. `alive(node)` says
        whether a server process still runs (see `fail_dangling`). `timeouts`: `make_engine`.
        """
        parsed = normalize_url(url)
        if migrate:
            await upgrade(parsed, schema=schema)
        else:
            await asyncio.to_thread(ensure_sqlite_dir, parsed)
        store = cls(make_engine(parsed, schema=schema, timeouts=timeouts))
        try:
            await store.fail_dangling(alive)
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        await self._engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        lock = self._write_lock or contextlib.nullcontext()
        async with lock, self._sessions.begin() as session:
            yield session

    async def identity(self, kind: IdentityKind, subject: str) -> str:
        """The id of the identity `subject`, created on first sight."""
        if kind not in IDENTITY_KINDS:
            raise ValueError(f"kind must be 'guest' or 'user', got {kind!r}")
        found = await self._find_identity(kind, subject)
        if found is not None:
            return found
        try:
            async with self._write() as session:
                session.add(Identity(id=new_id(), kind=kind, subject=subject))
        except IntegrityError:
            pass  # Another task or process created it first; theirs is the one.
        found = await self._find_identity(kind, subject)
        if found is None:
            raise StoreError(f"could not create identity {subject!r}")
        return found

    async def find_identity(self, kind: IdentityKind, subject: str) -> str | None:
        """The id of the identity `subject`, or None if it was never seen (nothing is written)."""
        return await self._find_identity(kind, subject)

    async def _find_identity(self, kind: str, subject: str) -> str | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Identity.id, Identity.kind).where(Identity.subject == subject)
                )
            ).one_or_none()
        if row is None:
            return None
        if row.kind != kind:
            # Handing a user a guest's identity (or the reverse) would hand over its data.
            raise IdentityConflict(f"subject {subject!r} belongs to a {row.kind}")
        return str(row.id)

    async def new_conversation(self, identity_id: str, title: str | None = None) -> str:
        conversation_id = new_id()
        try:
            async with self._write() as session:
                session.add(Conversation(id=conversation_id, identity_id=identity_id, title=title))
        except IntegrityError as exc:
            raise NotFound("identity not found") from exc
        return conversation_id

    async def conversation_owner(self, conversation_id: str) -> str | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(Conversation.identity_id).where(Conversation.id == conversation_id)
            )

    async def list_conversations(self, identity_id: str) -> list[ConversationInfo]:
        """The identity's conversations, most recently active first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Conversation)
                .where(Conversation.identity_id == identity_id)
                .order_by(Conversation.updated_at.desc(), Conversation.id)
            )
            return [ConversationInfo.of(row) for row in rows]

    async def messages(self, identity_id: str, conversation_id: str) -> list[MessageInfo]:
        """The conversation's messages, oldest first; `NotFound` unless `identity_id` owns it."""
        async with self._sessions() as session:
            owner = await session.scalar(
                select(Conversation.identity_id).where(Conversation.id == conversation_id)
            )
            if owner is None or owner != identity_id:
                raise NotFound("conversation not found")
            rows = await session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.created_at, Message.id)
            )
            return [MessageInfo.of(row) for row in rows]

    async def history(self, conversation_id: str, limit: int) -> list[tuple[str, str]]:
        """The last `limit` (role, text) pairs, oldest first, for the LLM's context."""
        return [(role, text) for role, text, _ in await self.history_rows(conversation_id, limit)]

    async def history_rows(
        self, conversation_id: str, limit: int
    ) -> list[tuple[str, str, list[dict[str, Any]]]]:
        """As `history`, with each reply's tool calls: (role, text, tools)."""
        if limit <= 0:
            return []
        async with self._sessions() as session:
            rows = await session.execute(
                select(Message.role, Message.text, Message.tools)
                .where(
                    Message.conversation_id == conversation_id,
                    Message.text != "",
                    # A reply still being written is the one being generated, not context.
                    Message.status != "streaming",
                )
                .order_by(Message.created_at.desc(), Message.id.desc())
                .limit(limit)
            )
            return [(str(r), str(t), list(c or [])) for r, t, c in reversed(rows.all())]

    async def add_user_message(
        self, conversation_id: str, text: str, *, client_id: str | None, turn_id: int | None
    ) -> str:
        return await self._add(
            conversation_id, "user", text, status="complete", client_id=client_id, turn_id=turn_id
        )

    async def begin_reply(
        self, conversation_id: str, *, turn_id: int, spoken: bool, node: str | None = None
    ) -> str:
        """Insert the assistant reply as `streaming`, so a restart can find it if we die.

        `node`: the server process generating it.
        """
        return await self._add(
            conversation_id,
            "assistant",
            "",
            status="streaming",
            spoken=spoken,
            turn_id=turn_id,
            node=node,
        )

    async def _add(self, conversation_id: str, role: Role, text: str, **fields: Any) -> str:
        message = Message(
            id=new_id(), conversation_id=conversation_id, role=role, text=text, data=[], **fields
        )
        async with self._write() as session:
            # Touching the conversation first both checks it exists and, on SQLite, makes the
            # first statement a write, which takes the write lock up front.
            touched = await _rowcount(
                session,
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(updated_at=utcnow()),
            )
            if touched != 1:
                raise NotFound("conversation not found")
            session.add(message)
        return message.id

    async def update_reply_text(self, message_id: str, text: str) -> bool:
        """Checkpoint a reply's text while it streams; False once it is no longer streaming."""
        streaming = (Message.id == message_id, Message.status == "streaming")
        return await self._update(update(Message).where(*streaming).values(text=text)) == 1

    async def finish_reply(
        self,
        message_id: str,
        *,
        text: str,
        status: FinalStatus,
        played_ms: int | None = None,
        data: list[dict[str, Any]] | None = None,
        spoken: bool | None = None,
        tools: list[dict[str, Any]] | None = None,
    ) -> None:
        """Store the reply's final state; `data`, `spoken`, `tools` stay as they were when None."""
        values = reply_values(text=text, status=status, played_ms=played_ms, data=data, tools=tools)
        if spoken is not None:
            values["spoken"] = spoken
        reply = (Message.id == message_id, Message.role == "assistant")
        if await self._update(update(Message).where(*reply).values(**values)) != 1:
            raise NotFound("reply not found")

    async def fail_reply(self, message_id: str) -> bool:
        """Mark a `streaming` reply `failed`, keeping its text; False if it was not streaming.

        For a reply whose final state the store refused: it must not stay `streaming`.
        """
        streaming = (Message.id == message_id, Message.status == "streaming")
        return await self._update(update(Message).where(*streaming).values(status="failed")) == 1

    async def fail_orphan(self, conversation_id: str, turn_id: int, text: str) -> int:
        """Mark the `streaming` reply of this turn `failed` (its process died).

        `text` is what the client was sent of it and becomes the reply's text; when empty, the
        row keeps the text it has.
        """
        orphan = update(Message).where(
            Message.conversation_id == conversation_id,
            Message.turn_id == turn_id,
            Message.role == "assistant",
            Message.status == "streaming",
        )
        values: dict[str, Any] = {"status": "failed"}
        if text:
            values["text"] = text
        return await self._update(orphan.values(**values))

    async def fail_dangling(self, alive: Alive | None = None) -> int:
        """Mark `streaming` replies of dead server processes `failed`, keeping their text.

        Without `alive`, every `streaming` reply is taken for dead (one server process). With
        it, replies whose `node` is alive are left to the process writing them. Returns how
        many were failed.
        """
        dangling = update(Message).where(Message.status == "streaming")
        if alive is not None:
            async with self._sessions() as session:
                nodes = await session.scalars(
                    select(Message.node).where(Message.status == "streaming").distinct()
                )
                live = [n for n in nodes if n is not None and await alive(n)]
            dangling = dangling.where(or_(Message.node.is_(None), Message.node.not_in(live)))
        return await self._update(dangling.values(status="failed"))

    async def _update(self, statement: Update) -> int:
        async with self._write() as session:
            return await _rowcount(session, statement)


async def _rowcount(session: AsyncSession, statement: Update) -> int:
    # Through the session's connection, whose result is typed as a cursor result with rowcount.
    connection = await session.connection()
    return (await connection.execute(statement)).rowcount
