"""Opening the services: what start-up made is kept out of the garbage collector's walks, and
closing them ends, whatever hangs."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.waiting import until
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.responder import llm_responder
from voicewire.resume.memory import MemoryHub
from voicewire.server import services
from voicewire.server.services import open_services, store_timeouts
from voicewire.storage.engine import Timeouts
from voicewire.tts.fake import FakeToneTTS


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # this test process makes many apps: nothing stays frozen after the test


async def start(tmp_path: Path, *, freeze: bool) -> int:
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path, gc_freeze=freeze)
    llm, tts = ScriptedLLM("Hi."), FakeToneTTS()
    async with open_services(settings, llm_responder, llm=llm, tts=tts):
        return gc.get_freeze_count()


async def test_what_start_up_loaded_is_frozen_out_of_the_garbage_collectors_walks(
    tmp_path: Path, unfrozen: None
) -> None:
    # A full collection walked every object the models, modules and ORM made (~150k with
    # Piper), holding the GIL for ~80 ms while every session's audio waited.
    assert await start(tmp_path, freeze=True) > 10_000


async def test_the_freeze_can_be_turned_off(tmp_path: Path, unfrozen: None) -> None:
    assert await start(tmp_path, freeze=False) == 0


class StuckHub(MemoryHub):
    """A hub whose close() never ends by itself, and swallows every cancel (as a redis-py send
    did on Python 3.11), until the test releases it."""

    def __init__(self) -> None:
        super().__init__(ttl_s=30, cap=100)
        self.release = asyncio.Event()
        self.closed = False

    async def close(self) -> None:
        while not self.release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await self.release.wait()
        self.closed = True


# Only turns a hang into a failure: far above any honest shutdown on a busy machine.
GUARD_S = 30.0


async def test_a_shutdown_that_hangs_ends_at_its_bound_and_logs_every_tasks_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # uvicorn runs the lifespan's shutdown with no timeout: one close that never ended (a
    # Redis heartbeat that swallowed its cancel) kept a server alive long after SIGTERM.
    hub = StuckHub()
    monkeypatch.setattr(services, "build_hub", lambda settings: hub)
    settings = Settings(
        llm="scripted", tts="fake", data_dir=tmp_path, persist=False, shutdown_timeout_s=0.05
    )

    async def serve() -> None:
        async with open_services(
            settings, llm_responder, llm=ScriptedLLM("Hi."), tts=FakeToneTTS()
        ):
            pass

    with caplog.at_level(logging.ERROR, logger="voicewire.tasks"):
        serving = asyncio.create_task(serve())
        try:
            await asyncio.wait([serving], timeout=GUARD_S)
            assert serving.done(), f"the shutdown still ran after {GUARD_S:g} s"
        finally:
            hub.release.set()
    serving.result()
    [error] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "StuckHub.close" in error  # the stack of what hangs, down to its await
    assert "test_a_shutdown_that_hangs" in error  # and of every other task
    await until(lambda: hub.closed, "the abandoned close to end once released")


async def test_the_shutdown_gives_up_on_a_write_that_never_ends_after_the_drain_bound(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        llm="scripted",
        tts="fake",
        data_dir=tmp_path,
        write_drain_timeout_s=0.05,
        shutdown_timeout_s=GUARD_S * 2,  # not this one: the drain's own bound ends it
    )
    blocked = asyncio.Event()

    async def stuck() -> None:
        blocked.set()
        await asyncio.Event().wait()  # behind a row lock nobody releases

    with caplog.at_level(logging.ERROR):
        async with open_services(
            settings, llm_responder, llm=ScriptedLLM("Hi."), tts=FakeToneTTS()
        ) as opened:
            write = opened.writes.spawn(stuck(), "closing the reply of turn 1")
            await blocked.wait()
        # (the guard: the exit above cannot outlast shutdown_timeout_s)
    await asyncio.wait([write])
    assert write.cancelled()
    [error] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "1 database write(s)" in error and "closing the reply of turn 1" in error


def test_the_stores_statements_are_bounded_as_the_settings_say_and_zero_is_no_bound() -> None:
    assert store_timeouts(Settings()) == Timeouts(lock_s=10.0, command_s=30.0) == Timeouts()
    unbounded = Settings(database_lock_timeout_s=0, database_command_timeout_s=0)
    assert store_timeouts(unbounded) == Timeouts(lock_s=None, command_s=None)
    assert store_timeouts(Settings(database_lock_timeout_s=0.5)).lock_s == 0.5


class OrderedHub(MemoryHub):
    """Notes when it is closed, in the test's order of events."""

    def __init__(self, order: list[str]) -> None:
        super().__init__(ttl_s=30, cap=100)
        self.order = order

    async def close(self) -> None:
        self.order.append("hub closed")
        await super().close()


async def test_the_shutdown_waits_for_the_connections_still_ending_before_it_drains_the_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # uvicorn cancels the connections still open at its graceful timeout without waiting for
    # them and starts the lifespan's shutdown at once: a connection whose end queued its
    # reply's closing write after the drain had found none left that write to a closed store.
    order: list[str] = []
    monkeypatch.setattr(services, "build_hub", lambda settings: OrderedHub(order))
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path, persist=False)
    opened_slot = asyncio.Event()

    async def connection(opened: services.Services) -> None:
        assert opened.connections.acquire("guest-1") is None  # as handshake.admitted does
        opened_slot.set()
        try:
            await asyncio.Event().wait()  # serving, until cancelled
        finally:
            for _ in range(3):  # its end takes a few steps (the turn's cancel, the outbox)
                await asyncio.sleep(0)

            async def close_reply() -> None:
                order.append("reply closed")

            opened.writes.spawn(close_reply(), "closing the reply of turn 1")
            opened.connections.release("guest-1")

    async with open_services(
        settings, llm_responder, llm=ScriptedLLM("Hi."), tts=FakeToneTTS()
    ) as opened:
        served = asyncio.create_task(connection(opened))
        await opened_slot.wait()
        served.cancel()  # uvicorn's graceful timeout: cancelled, not waited for
    assert order == ["reply closed", "hub closed"]
    assert served.done()
