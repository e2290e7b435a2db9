"""`Writes` (server/writes.py): the app's background database writes, drained on shutdown."""

from __future__ import annotations

import asyncio
import logging

import pytest

from voicewire.server.writes import Writes

# Only turns a hang into a failure: far above any honest drain on a busy machine.
GUARD_S = 30.0


async def test_a_drain_waits_for_every_write_even_those_started_while_it_waits() -> None:
    writes = Writes()
    written: list[str] = []
    go = asyncio.Event()

    async def then() -> None:
        written.append("then")

    async def first() -> None:
        await go.wait()
        written.append("first")
        writes.spawn(then(), "the write after it")

    writes.spawn(first(), "the first write")
    draining = asyncio.create_task(writes.drain(timeout_s=GUARD_S * 2))
    await asyncio.sleep(0)  # the drain is waiting (a yield, not a wait for time)
    go.set()
    await asyncio.wait_for(draining, GUARD_S)
    assert written == ["first", "then"]


async def test_a_drain_abandons_only_the_writes_still_blocked_at_its_bound_and_names_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A write blocked forever (a row lock that is never released) held the server's shutdown,
    # and uvicorn runs the lifespan's shutdown with no timeout: the process never exited.
    writes = Writes()
    blocked = asyncio.Event()
    done: list[str] = []

    async def stuck() -> None:
        blocked.set()
        await asyncio.Event().wait()  # the lock that is never released

    async def quick() -> None:
        await blocked.wait()
        done.append("quick")

    stuck_task = writes.spawn(stuck(), "closing the reply of turn 3")
    writes.spawn(quick(), "storing a user message")
    with caplog.at_level(logging.ERROR, logger="voicewire.server.writes"):
        await asyncio.wait_for(writes.drain(timeout_s=0.05), GUARD_S)
    assert done == ["quick"]  # what could be written was
    await asyncio.wait([stuck_task], timeout=GUARD_S)
    assert stuck_task.cancelled()  # abandoned: nothing of it goes on after the shutdown
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "1 database write" in errors[0] and "closing the reply of turn 3" in errors[0]
    assert "storing a user message" not in errors[0]


async def test_a_drain_with_no_bound_waits_for_the_last_write() -> None:
    writes = Writes()
    go = asyncio.Event()
    task = writes.spawn(go.wait(), "a write")
    draining = asyncio.create_task(writes.drain())
    await asyncio.sleep(0)
    assert not draining.done()
    go.set()
    await asyncio.wait_for(draining, GUARD_S)
    assert task.done() and not task.cancelled()
