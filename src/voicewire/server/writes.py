"""The app's background database writes, and when a failed one is worth trying again.

Writes run as tasks of their own, off the path of text and audio frames, and the app waits for
them on shutdown (`Writes.drain`), for at most `write_drain_timeout_s`: a write blocked forever
(on a row lock nobody releases) must not keep the process from exiting. A write is retried
while the database is briefly unavailable (`transient`), not when it refuses a value: that
fails the same way every time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

T = TypeVar("T")

log = logging.getLogger(__name__)


class Writes:
    """Background database writes of the whole app; `drain()` waits for all of them.

    Each write is named (`spawn(coro, what)`), so those a bounded drain abandons can be told.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(
        self, coro: Coroutine[Any, Any, T], what: str = "a database write"
    ) -> asyncio.Task[T]:
        task = asyncio.create_task(coro, name=what)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("database write failed", exc_info=task.exception())

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait for every write, those started meanwhile too, for at most `timeout_s` (None:
        no bound); then cancel the writes still running, with an error naming each."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while self._tasks:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                break
            await asyncio.wait(list(self._tasks), timeout=left)
        if not self._tasks:
            return
        abandoned = sorted(task.get_name() for task in self._tasks)
        log.error(
            "%d database write(s) not done after draining for %g s, abandoned: %s",
            len(abandoned),
            timeout_s,
            "; ".join(abandoned),
        )
        for task in list(self._tasks):
            task.cancel()  # not awaited: a write that ignores its cancel must not hold us


# PostgreSQL SQLSTATE classes that say "try again": connection exception, transaction rollback
# (serialization failure, deadlock), insufficient resources (too many connections), operator
# intervention (shutting down, starting up), system error.
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
# And lock_not_available: `lock_timeout` ran out behind a lock held for a while (a migration's
# ALTER TABLE during a rollout, a long transaction), which the next attempt may not meet.
TRANSIENT_SQLSTATES = frozenset({"55P03"})


def transient(exc: BaseException) -> bool:
    """The database is unreachable, restarting or busy: the same write may succeed later.

    Anything else (a value the column cannot hold, a constraint) fails the same way every
    time, so retrying it only delays what must happen instead.
    """
    if isinstance(exc, OSError | OperationalError | DisconnectionError | PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    # asyncpg and psycopg 3 name it `sqlstate`, psycopg2 `pgcode`.
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    listed = isinstance(state, str) and (
        state[:2] in TRANSIENT_SQLSTATE_CLASSES or state in TRANSIENT_SQLSTATES
    )
    return exc.connection_invalidated or listed


async def retried(what: str, write: Callable[[], Awaitable[T]], *, delays: Sequence[float]) -> T:
    """Run a database write, retrying while the database is briefly unavailable.

    `delays`: the waits between attempts (none: one attempt).
    """
    for attempt, delay in enumerate((*delays, None)):
        try:
            return await write()
        except Exception as exc:
            if delay is None or not transient(exc):
                raise
            log.warning(
                "%s failed (attempt %d), retrying in %g s: %s", what, attempt + 1, delay, exc
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
