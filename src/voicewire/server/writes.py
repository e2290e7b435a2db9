"""The app's background database writes, and when a failed one is worth trying again.

Writes run as tasks of their own, off the path of text and audio frames, and the app waits for
them on shutdown (`Writes.drain`). A write is retried while the database is briefly unavailable
(`transient`), not when it refuses a value: that fails the same way every time.
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
    """Background database writes of the whole app; `drain()` waits for all of them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
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


# PostgreSQL SQLSTATE classes that say "try again": connection exception, transaction rollback
# (serialization failure, deadlock), insufficient resources (too many connections), operator
# intervention (shutting down, starting up), system error.
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})


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
    in_class = isinstance(state, str) and state[:2] in TRANSIENT_SQLSTATE_CLASSES
    return exc.connection_invalidated or in_class


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
