"""What a connection writes to the store, kept off the path of text and audio frames.

The user message is committed before any frame of its turn is sent (so it survives anything
that follows); the reply row is opened and closed by background tasks that the app awaits on
shutdown (`writes.Writes`), so a slow database never delays a frame. A connection's rows are
inserted one after another (`Recorder`), so they are in the order of its turns whatever the
database's speed. Writes are retried while the database is briefly unavailable
(`writes.transient`), not when it refuses a value; a write that still fails is logged, never
swallowed, and a reply is never left `streaming` by a value the store refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from voicewire.protocol.messages import TurnStart, TurnStatus
from voicewire.server.writes import Writes, retried, transient
from voicewire.storage import Store
from voicewire.turn import Outgoing

T = TypeVar("T")

log = logging.getLogger(__name__)


# The waits between a write's attempts (`writes.retried`); the start gate waits for the first.
RETRY_DELAYS_S = (0.1, 0.5, 2.0, 5.0)

AMENDABLE_REPLIES = 16  # replies a Recorder can still amend after closing them


class Recorder:
    """One connection's writes: its user messages and replies, in the order of its turns.

    Messages are ordered by when their row was inserted, so the inserts go through one queue:
    each starts when the one before it has ended (committed or failed for good). User 1,
    reply 1, user 2, reply 2 are then stored in that order however slow or flaky the database
    is — a barge-in is never stored before the reply it interrupted. Closing a reply (an
    update) waits for its own row only, so a barge-in's question is not queued behind it.

    `node` is this server process, recorded on the replies it generates so that another
    process starting up leaves them alone (Store.fail_dangling).
    """

    def __init__(self, store: Store, writes: Writes, conversation_id: str, *, node: str) -> None:
        self.store = store
        self.writes = writes
        self.conversation_id = conversation_id
        self.node = node
        self._last: asyncio.Task[Any] | None = None
        # The last write ended failed for want of a database (see `_retried`).
        self._down = False
        # Each turn's reply row id; None when its user message could not be stored.
        self._replies: dict[int, asyncio.Task[str | None]] = {}
        # The last replies closed: (row id, the close's write), for a later `amend_reply`.
        self._closed: dict[int, tuple[asyncio.Task[str | None], asyncio.Task[None]]] = {}

    def _what(self, turn_id: int, what: str) -> str:
        return f"{what} of turn {turn_id} in conversation {self.conversation_id}"

    def _queue(self, insert: Callable[[], Awaitable[T]], what: str) -> asyncio.Task[T]:
        previous = self._last

        async def in_turn() -> T:
            if previous is not None:
                await asyncio.wait([previous])  # its outcome is its own: logged by Writes
            return await insert()

        task = self.writes.spawn(in_turn(), what)
        self._last = task
        return task

    async def _retried(self, what: str, write: Callable[[], Awaitable[T]]) -> T:
        """`retried`, but one attempt only while the database is known to be down.

        Queued inserts wait for each other: each retrying for seconds during an outage would
        add up (and hold the app's shutdown drain) for writes bound to fail the same way.
        """
        try:
            result = await retried(what, write, delays=() if self._down else RETRY_DELAYS_S)
        except Exception as exc:
            self._down = transient(exc)
            raise
        self._down = False
        return result

    def user_message(
        self, text: str, *, client_id: str, turn_id: int, spoken: bool
    ) -> asyncio.Future[None]:
        """Store the user's message, then open its reply (both retried).

        The returned future is done when the message is committed (or failed for good).
        Cancelling it, or a task awaiting it, cancels nothing of the write.
        """
        add = partial(
            self.store.add_user_message,
            self.conversation_id,
            text,
            client_id=client_id,
            turn_id=turn_id,
        )
        stored = self._queue(
            partial(self._retried, "storing a user message", add),
            self._what(turn_id, "storing the user message"),
        )

        async def begin() -> str | None:
            if stored.cancelled() or stored.exception() is not None:
                return None  # no reply without the question it answers
            return await self._open_reply(turn_id, spoken)

        self._replies[turn_id] = self._queue(begin, self._what(turn_id, "opening the reply"))
        return _detached(stored)

    def follow_up(self, turn_id: int, *, spoken: bool) -> None:
        """Open a reply that answers no new user message (it goes on after tool outputs)."""
        opening = partial(self._open_reply, turn_id, spoken)
        self._replies[turn_id] = self._queue(opening, self._what(turn_id, "opening the reply"))

    async def _open_reply(self, turn_id: int, spoken: bool) -> str | None:
        open_ = partial(
            self.store.begin_reply,
            self.conversation_id,
            turn_id=turn_id,
            spoken=spoken,
            node=self.node,
        )
        return await self._retried("opening a reply", open_)

    def finish_reply(
        self,
        turn_id: int,
        *,
        text: str,
        status: TurnStatus,
        played_ms: int | None,
        spoken: bool,
        data: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
    ) -> None:
        """Close the turn's reply; a value the store refuses never leaves it `streaming`."""
        begun = self._replies.pop(turn_id, None)
        if begun is None:
            return

        async def finish() -> None:
            await asyncio.wait([begun])
            if begun.cancelled() or begun.exception() is not None:
                return
            message_id = begun.result()
            if message_id is not None:
                await self._close(message_id, text, status, played_ms, spoken, data, tools)

        closing = self.writes.spawn(finish(), self._what(turn_id, f"closing the reply ({status})"))
        self._closed[turn_id] = (begun, closing)
        while len(self._closed) > AMENDABLE_REPLIES:
            del self._closed[next(iter(self._closed))]

    def amend_reply(self, turn_id: int, *, text: str, played_ms: int) -> None:
        """A closed reply cut afterwards to what was heard (a Realtime truncate): stored
        `interrupted` with `text`, after its close (one of the last `AMENDABLE_REPLIES`)."""
        closed = self._closed.get(turn_id)
        if closed is None:
            return
        begun, finishing = closed

        async def amend() -> None:
            await asyncio.wait([finishing])
            message_id = begun.result() if not begun.cancelled() and not begun.exception() else None
            if message_id is not None:
                await self._close(message_id, text, "interrupted", played_ms, True, None)

        amending = self.writes.spawn(
            amend(), self._what(turn_id, "cutting the reply to what was heard")
        )
        self._closed[turn_id] = (begun, amending)

    async def _close(
        self,
        message_id: str,
        text: str,
        status: TurnStatus,
        played_ms: int | None,
        spoken: bool,
        data: list[dict[str, Any]] | None,  # None: as stored
        tools: list[dict[str, Any]] | None = None,  # None: as stored
    ) -> None:
        for played in [played_ms, None] if played_ms is not None else [None]:
            close = partial(
                self.store.finish_reply,
                message_id,
                text=text,
                status=status,
                played_ms=played,
                spoken=spoken,
                data=data,
                tools=tools,
            )
            try:
                await self._retried("closing a reply", close)
                return
            except Exception as exc:
                if transient(exc):
                    raise
                log.error("closing reply %s (played_ms=%s) failed: %r", message_id, played, exc)
        # Whatever the store refused, the row must not stay `streaming`; it keeps its text.
        await self._retried("failing a reply", partial(self.store.fail_reply, message_id))

    def fail_orphan(self, turn_id: int, text: str) -> None:
        """A reply another process was generating when it died: stored `failed` now.

        `text` is what the client was sent of it, kept as the reply's text.
        """
        fail = partial(self.store.fail_orphan, self.conversation_id, turn_id, text)
        failing = self._retried("failing an orphaned reply", fail)
        self.writes.spawn(failing, self._what(turn_id, "failing the orphaned reply"))


def _detached(task: asyncio.Task[Any]) -> asyncio.Future[None]:
    """A future that follows `task`'s outcome; cancelling it leaves `task` alone."""
    follower = asyncio.get_running_loop().create_future()

    def follow(done: asyncio.Task[Any]) -> None:
        if follower.done():
            return
        if done.cancelled():
            follower.cancel()
        elif (exc := done.exception()) is not None:
            follower.set_exception(exc)
            follower.exception()  # Writes logs the failure: awaiting the follower is optional
        else:
            follower.set_result(None)

    task.add_done_callback(follow)
    return follower


class StartGate:
    """Holds a turn's frames back until its user message is committed.

    The LLM and the speech synthesis start at once, so the commit hides behind the first
    token and the first audio (a burst of turns on SQLite commits one after another: tens of
    milliseconds); but nothing of the reply — not even `turn.start` — is sent before the
    question it answers is stored. If the database is down, the turn goes on once the first
    attempt failed (the write keeps retrying in the background, and a final failure is logged).
    The turn's writers (its text and its speech) wait at the gate in the order they came, and
    `turn.start` goes first.
    """

    def __init__(
        self,
        put: Callable[[Any], Awaitable[None]],
        start: TurnStart,
        stored: asyncio.Future[None] | None,
    ) -> None:
        self.put = put
        self.start = start
        self.stored = stored
        self.opened = False  # `turn.start` is out: items pass straight through
        self._opening = asyncio.Lock()

    async def open(self) -> None:
        if self.opened:
            return
        async with self._opening:
            if not self.opened:
                await self._open_locked()

    async def emit(self, item: Outgoing) -> None:
        if self.opened:
            await self.put(item)
            return
        async with self._opening:  # behind whoever came first, and `turn.start`
            if not self.opened:
                await self._open_locked()
            await self.put(item)

    async def _open_locked(self) -> None:
        if self.stored is not None:
            # The first attempt, or the whole retried write if quick: whichever ends first.
            with contextlib.suppress(Exception, TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.stored), RETRY_DELAYS_S[0])
        await self.put(self.start)
        self.opened = True
