"""What a connection writes to the store, kept off the path of text and audio frames.

The user message is committed before any frame of its turn is sent (so it survives anything
that follows); the reply row is opened and closed by background tasks that the app awaits on
shutdown, so a slow database never delays a frame. Writes are retried while the database is
briefly unavailable; a write that still fails is logged, never swallowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from voicewire.protocol.messages import TurnStart, TurnStatus
from voicewire.storage import Store
from voicewire.turn import Outgoing

T = TypeVar("T")

log = logging.getLogger(__name__)


class Writes:
    """Background database writes of the whole app; `drain()` waits for all of them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("database write failed", exc_info=task.exception())

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


RETRY_DELAYS_S = (0.1, 0.5, 2.0, 5.0)


async def retried(what: str, write: Callable[[], Awaitable[T]]) -> T:
    """Run a database write, retrying while the database is briefly unavailable."""
    for attempt, delay in enumerate((*RETRY_DELAYS_S, None)):
        try:
            return await write()
        except (OSError, SQLAlchemyError) as exc:
            if delay is None:
                raise
            log.warning(
                "%s failed (attempt %d), retrying in %g s: %s", what, attempt + 1, delay, exc
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


class Recorder:
    """One connection's writes: its conversation, user messages, and replies."""

    def __init__(
        self, store: Store, writes: Writes, conversation_id: str, *, node: str | None = None
    ) -> None:
        self.store = store
        self.writes = writes
        self.conversation_id = conversation_id
        self.node = node  # this server process, recorded on the replies it generates
        self._replies: dict[int, asyncio.Task[str]] = {}

    def user_message(
        self, text: str, *, client_id: str, turn_id: int, spoken: bool
    ) -> asyncio.Task[None]:
        """Store the user's message (retried); the task ends when it is committed."""
        store, conversation = self.store, self.conversation_id

        async def write() -> None:
            await retried(
                "storing a user message",
                lambda: store.add_user_message(
                    conversation, text, client_id=client_id, turn_id=turn_id
                ),
            )

        stored = self.writes.spawn(write())

        async def begin() -> str:
            await stored
            return await retried(
                "opening a reply",
                lambda: store.begin_reply(
                    conversation, turn_id=turn_id, spoken=spoken, node=self.node
                ),
            )

        self._replies[turn_id] = self.writes.spawn(begin())
        return stored

    def finish_reply(
        self,
        turn_id: int,
        *,
        text: str,
        status: TurnStatus,
        played_ms: int | None,
        spoken: bool,
        data: list[dict[str, Any]],
    ) -> None:
        begun = self._replies.pop(turn_id, None)
        if begun is None:
            return
        store = self.store

        async def finish() -> None:
            message_id = await begun
            await retried(
                "closing a reply",
                lambda: store.finish_reply(
                    message_id,
                    text=text,
                    status=status,
                    played_ms=played_ms,
                    spoken=spoken,
                    data=data,
                ),
            )

        self.writes.spawn(finish())

    def fail_orphan(self, turn_id: int) -> None:
        """A reply another process was generating when it died: stored `failed` now."""
        store, conversation = self.store, self.conversation_id

        async def fail() -> None:
            await retried(
                "failing an orphaned reply", lambda: store.fail_orphan(conversation, turn_id)
            )

        self.writes.spawn(fail())


class StartGate:
    """Holds a turn's frames back until its user message is committed.

    The LLM starts at once, so the commit's few milliseconds hide behind its first-token
    latency; but nothing of the reply — not even `turn.start` — is sent before the question it
    answers is stored. If the database is down, the turn goes on once the first attempt failed
    (the write keeps retrying in the background, and a final failure is logged).
    """

    def __init__(
        self,
        put: Callable[[Any], Awaitable[None]],
        start: TurnStart,
        stored: asyncio.Task[None] | None,
    ) -> None:
        self.put = put
        self.start = start
        self.stored = stored
        self.opened = False

    async def open(self) -> None:
        if self.opened:
            return
        self.opened = True
        if self.stored is not None:
            # The first attempt, or the whole retried write if it is quick: whichever ends first.
            with contextlib.suppress(Exception, TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.stored), RETRY_DELAYS_S[0])
        await self.put(self.start)

    async def emit(self, item: Outgoing) -> None:
        await self.open()
        await self.put(item)
