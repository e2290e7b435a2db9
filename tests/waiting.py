"""Waiting for something to happen, without betting on how long it takes.

A test waits for the event itself: a message on the socket, an `asyncio.Event`, a task that
ends. When the thing happens out of the test's reach (a server thread, another process, a row
written in the background), `until` polls a condition instead. Its overall timeout only turns
a hang into a failure with a message: it is far above any honest run on a busy machine, so it
never decides the outcome of a test that works.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# Far below pytest's own 300 s timeout, so a hang fails with `what` rather than a thread dump.
HANG_S = 120.0
POLL_S = 0.02


async def until(check: Callable[[], T | Awaitable[T]], what: str, *, hang_s: float = HANG_S) -> T:
    """Poll `check()` (sync or async) until it returns something true; return that."""
    try:
        async with asyncio.timeout(hang_s):
            while True:
                value = check()
                if inspect.isawaitable(value):
                    value = await value
                if value:
                    return value  # type: ignore[return-value]
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        raise AssertionError(f"hung for {hang_s:g} s waiting for {what}") from None


def until_sync(check: Callable[[], T], what: str, *, hang_s: float = HANG_S) -> T:
    """`until` for code without an event loop (a thread waiting for a server or a process)."""
    deadline = time.monotonic() + hang_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"hung for {hang_s:g} s waiting for {what}")
        time.sleep(POLL_S)
