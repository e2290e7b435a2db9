"""Waiting for a task at most so long, and saying where the tasks that did not end are stuck.

A task can fail to end when told: on Python 3.11 `asyncio.wait_for` (redis-py wraps every send
in it) swallows a cancel that lands as what it waits for completes (CPython gh-86296), and a
statement behind a lock nobody releases waits as long as the lock. Whoever must end whatever
happens (the server's shutdown, a connection's end) waits for such a task for a bounded time,
and then logs where it is stuck: `stack(task)` is its whole await chain, coroutine by
coroutine (through the async generators it iterates) down to the innermost one; the task's
repr names the future it waits for (`Task.get_stack()` shows only its outer coroutine).
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import linecache
import logging
from collections.abc import Coroutine
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)


def stack(task: asyncio.Task[Any]) -> str:
    """Where `task` is: itself, then each coroutine it awaits, innermost last."""
    lines = [repr(task)]
    awaited: object = task.get_coro()
    for _ in range(200):  # an await chain is finite, but a guard costs nothing
        frame = _frame(awaited)
        if frame is None:
            break
        code = frame.f_code
        lines.append(f'  File "{code.co_filename}", line {frame.f_lineno}, in {code.co_qualname}')
        source = linecache.getline(code.co_filename, frame.f_lineno).strip()
        if source:
            lines.append(f"    {source}")
        awaited = _awaited(awaited)
    return "\n".join(lines)


def all_stacks() -> str:
    """The stack of every task of the running loop."""
    tasks = sorted(asyncio.all_tasks(), key=lambda task: task.get_name())
    return "\n\n".join(stack(task) for task in tasks)


def _frame(awaitable: object) -> FrameType | None:
    for name in ("cr_frame", "gi_frame", "ag_frame"):
        frame = getattr(awaitable, name, None)
        if frame is not None:
            return frame  # type: ignore[no-any-return]
    return None


def _awaited(awaitable: object) -> object:
    for name in ("cr_await", "gi_yieldfrom", "ag_await"):
        inner = getattr(awaitable, name, None)
        if inner is not None:
            return _generator_of(inner)
    return None


def _generator_of(awaitable: object) -> object:
    """What an `async for` awaits is the generator's `asend` (or `athrow`) object, which shows
    neither frame nor awaitable: the generator it drives is its one referent with a frame."""
    if type(awaitable).__name__ not in ("async_generator_asend", "async_generator_athrow"):
        return awaitable
    for referent in gc.get_referents(awaitable):
        if inspect.isasyncgen(referent):
            return referent
    return awaitable


async def bounded(closing: Coroutine[Any, Any, None], timeout_s: float, what: str) -> None:
    """Run `closing` for at most `timeout_s`, then give up on it: log every task's stack (the
    next hang explains itself), cancel it and return without waiting for it to end.

    Its error, when it ends in time, is raised here.
    """
    task = asyncio.create_task(closing, name=what)
    try:
        await asyncio.wait([task], timeout=timeout_s)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task.done():
        return task.result()
    log.error(
        "%s did not end within %g s; abandoned. Every task:\n%s", what, timeout_s, all_stacks()
    )
    task.add_done_callback(_log_late_end)
    task.cancel()


def _log_late_end(task: asyncio.Task[Any]) -> None:
    """An abandoned task ended after all: say how (its error is retrieved, not left unseen)."""
    if task.cancelled():
        log.warning("%s ended late, cancelled", task.get_name())
    elif (error := task.exception()) is not None:
        log.error("%s failed late", task.get_name(), exc_info=error)
    else:
        log.warning("%s ended late", task.get_name())
