"""Serving a resume (server/resumption.py): a replay the client leaves is stopped, whatever it
does with its cancel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from types import SimpleNamespace
from typing import Any

import pytest

from voicewire.resume import Frame, Handoff, OnControl, ReplayLog, SessionState
from voicewire.resume.memory import MemoryHub
from voicewire.server import resumption
from voicewire.server.auth import ResumeGrant
from voicewire.server.handshake import Resume
from voicewire.server.outbox import Raw
from voicewire.server.resumption import resume

# Only turns a hang into a failure: far above any honest run on a busy machine.
GUARD_S = 30.0


class SwallowingFollowHub(MemoryHub):
    """A hub whose log, once followed, swallows every cancel (as a redis-py read can on Python
    3.11, when the cancel lands as the read completes) until its next frame comes."""

    def __init__(self) -> None:
        super().__init__(ttl_s=30, cap=100)
        self.following = asyncio.Event()
        self.next_frame = asyncio.Event()
        self.cancels = 0

    async def find(self, session_id: str) -> SessionState | None:
        return SessionState(
            session_id=session_id, subject="guest-1", conversation_id="c1", seq=3, next_turn=2
        )

    async def open(self, state: SessionState, on_control: OnControl) -> ReplayLog | None:
        raise AssertionError("a replay the client left owns nothing")

    async def follow(self, session_id: str, after_seq: int) -> AsyncIterator[Frame | Handoff]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[Frame | Handoff]:
        self.following.set()
        while not self.next_frame.is_set():
            try:
                await self.next_frame.wait()
            except asyncio.CancelledError:
                self.cancels += 1
        yield Frame(4, b"audio the client is no longer there for")
        await asyncio.Event().wait()

    async def control(self, session_id: str, control: object) -> None:
        pass


async def test_a_replay_the_client_left_is_cancelled_again_until_it_stops(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The connection's end waited for the cancelled replay with no bound and cancelled it
    # once: a replay that swallowed its cancel held the connection (and the server's
    # shutdown) forever, and said nothing.
    monkeypatch.setattr(resumption, "REPLAY_STOP_TIMEOUT_S", 0.05)
    hub = SwallowingFollowHub()
    sent: list[object] = []
    replays: list[asyncio.Task[Any]] = []

    def create_task(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        replays.append(asyncio.create_task(coro))
        return replays[-1]

    conn: Any = SimpleNamespace(
        services=SimpleNamespace(hub=hub),
        session=SimpleNamespace(session_id="", resumed_frame=lambda seq: "resumed"),
        out=SimpleNamespace(put_now=sent.append, put=_append_to(sent)),
        identity="guest-1",
        inbound=SimpleNamespace(relay=None, closed_by_client=False),
        tg=SimpleNamespace(create_task=create_task),
    )
    request = Resume(ResumeGrant("s1", "guest-1", "c1"), last_seq=3)
    client_gone = asyncio.Event()
    reader = asyncio.create_task(client_gone.wait())
    told = _Told(times=2)
    logger = logging.getLogger("voicewire.server.resumption")
    logger.addHandler(told)
    try:
        with caplog.at_level(logging.ERROR, logger=logger.name):
            resuming = asyncio.create_task(resume(conn, None, request, reader))  # type: ignore[arg-type]
            await asyncio.wait_for(hub.following.wait(), GUARD_S)
            client_gone.set()  # the client goes again, mid-replay
            # Each bound, the replay's stack is logged and it is cancelled again.
            await asyncio.wait_for(told.enough.wait(), GUARD_S)
            assert not resuming.done() and hub.cancels >= 2
            hub.next_frame.set()  # ... it stops at its next frame, at the latest
            await asyncio.wait([resuming], timeout=GUARD_S)
            assert resuming.done(), f"the resume still waited for its replay after {GUARD_S:g} s"
    finally:
        logger.removeHandler(told)
        hub.next_frame.set()
    assert resuming.result() is False
    assert "its replay did not stop" in caplog.text
    assert "in Relay.run" in caplog.text  # where it was stuck
    [replay] = replays
    assert replay.done()
    assert [item for item in sent if item != Raw("resumed")] == []  # nothing more was relayed


class _Told(logging.Handler):
    """Sets `enough` once `times` errors have been logged."""

    def __init__(self, times: int) -> None:
        super().__init__(logging.ERROR)
        self.times = times
        self.enough = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.times -= 1
        if self.times <= 0:
            self.enough.set()


def _append_to(items: list[object]) -> Any:
    async def put(item: object) -> None:
        items.append(item)

    return put
