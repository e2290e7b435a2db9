"""Waiting for a task at most so long (voicewire.tasks): what it gives up on is still heard of."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from voicewire.tasks import bounded, stack

GUARD_S = 30.0  # only turns a hang into a failure


async def test_a_closing_that_ends_in_time_returns_and_raises_its_own_error() -> None:
    async def fails() -> None:
        raise ValueError("the store refused")

    await bounded(asyncio.sleep(0), 5.0, "closing")
    with pytest.raises(ValueError, match="refused"):
        await bounded(fails(), GUARD_S, "closing")


async def test_a_closing_given_up_on_is_logged_with_every_stack_and_its_late_error_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    go = asyncio.Event()

    async def swallows_its_cancel() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await go.wait()  # as a read that completes as its cancel lands
        raise ValueError("the hub's socket broke")

    with caplog.at_level(logging.WARNING, logger="voicewire.tasks"):
        await asyncio.wait_for(bounded(swallows_its_cancel(), 0.01, "stuck closing"), GUARD_S)
        assert "stuck closing did not end within 0.01 s" in caplog.text
        assert "in test_a_closing_given_up_on" in caplog.text  # every task's stack: the test's
        [task] = [t for t in asyncio.all_tasks() if t.get_name() == "stuck closing"]
        go.set()
        # (bounded's callback was added before wait's own: it has run when wait returns)
        await asyncio.wait_for(asyncio.wait([task]), GUARD_S)
    assert "stuck closing failed late" in caplog.text
    assert "the hub's socket broke" in caplog.text


async def test_a_tasks_stack_goes_on_into_the_async_generator_it_iterates() -> None:
    never = asyncio.Event()

    async def frames_from_redis() -> AsyncIterator[int]:
        await never.wait()  # as a read nothing answers
        yield 1

    async def replay() -> None:
        async for _ in frames_from_redis():
            pass

    task = asyncio.create_task(replay())
    await asyncio.sleep(0)  # let it start: one step, into the generator's wait
    try:
        where = stack(task)
        assert (
            "in test_a_tasks_stack_goes_on_into_the_async_generator_it_iterates.<locals>.replay"
            in where
        )
        assert "frames_from_redis" in where and "await never.wait()" in where
    finally:
        task.cancel()
        await asyncio.wait([task])
