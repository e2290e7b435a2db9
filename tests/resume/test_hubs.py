"""The replay-log contract, on both hubs: in memory, and in the real Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest

from tests.resume.conftest import require_redis
from tests.waiting import HANG_S, until
from voicewire.resume import (
    CancelTurn,
    Control,
    Frame,
    Handoff,
    Hub,
    OnControl,
    ReplayLog,
    SessionState,
    Takeover,
    Unavailable,
)
from voicewire.resume.memory import MemoryHub
from voicewire.resume.redis import RedisHub
from voicewire.server.sessionlog import SessionLog

MakeHub = Callable[..., Awaitable[Hub]]


@pytest.fixture(params=["memory", "redis"])
async def make_hub(request: pytest.FixtureRequest) -> AsyncIterator[MakeHub]:
    """Builds hubs of one kind; Redis hubs made by one test share its key prefix (its nodes)."""
    hubs: list[Hub] = []
    memory: MemoryHub | None = None

    async def make(ttl_s: float = 60, cap: int = 1000) -> Hub:
        nonlocal memory
        if request.param == "memory":
            # One process has one memory hub: "another node" is the same hub.
            memory = memory or MemoryHub(ttl_s=ttl_s, cap=cap)
            return memory
        prefix = request.getfixturevalue("redis_prefix")
        hub = RedisHub(require_redis(), ttl_s=ttl_s, cap=cap, prefix=prefix)
        await hub.start()
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        await hub.close()


def state(seq: int = 0, **changes: object) -> SessionState:
    return SessionState(
        session_id="s1", subject="guest-1", conversation_id="c1", seq=seq, next_turn=1
    ).model_copy(update=changes)


async def no_control(control: Control) -> None:
    raise AssertionError(f"unexpected control {control}")


async def collect(hub: Hub, after: int) -> list[Frame | Handoff]:
    items: list[Frame | Handoff] = []
    async for item in await hub.follow("s1", after):
        items.append(item)
    return items


async def logged(hub: RedisHub, count: int) -> None:
    """Frames are written to Redis in the background: wait until `count` of them are."""
    key = hub._key("s1", "log")

    async def written() -> bool:
        return bool(await hub.redis.xlen(key) >= count)

    await until(written, f"{count} frames to be written to Redis")


async def test_a_follower_gets_every_frame_after_its_seq_live_then_the_handoff(
    make_hub: MakeHub,
) -> None:
    hub = await make_hub()
    log = await hub.open(state(), no_control)
    assert log is not None
    for seq in range(1, 6):
        log.append(seq, f'{{"seq":{seq}}}' if seq % 2 else bytes([seq]) * 10)
    await log.save(state(5))
    items: list[Frame | Handoff] = []
    caught_up = asyncio.Event()

    async def follow() -> None:
        async for item in await hub.follow("s1", 2):
            items.append(item)
            if isinstance(item, Frame) and item.seq == 5:
                caught_up.set()  # it goes straight on to wait for frame 6

    follower = asyncio.create_task(follow())
    await until(lambda: caught_up.is_set() or follower.done(), "the follower to catch up")
    log.append(6, "live")
    await log.handoff(state(6, next_turn=3))
    await asyncio.wait_for(follower, HANG_S)
    frames = [i for i in items if isinstance(i, Frame)]
    assert [f.seq for f in frames] == [3, 4, 5, 6]
    assert [f.data for f in frames] == ['{"seq":3}', bytes([4]) * 10, '{"seq":5}', "live"]
    assert isinstance(items[-1], Handoff)
    assert items[-1].state.next_turn == 3
    assert not items[-1].orphaned


async def test_a_follower_that_has_everything_gets_only_the_handoff(make_hub: MakeHub) -> None:
    hub = await make_hub()
    log = await hub.open(state(), no_control)
    assert log is not None
    log.append(1, "a")
    await log.handoff(state(1))
    items = await collect(hub, 1)
    assert len(items) == 1 and isinstance(items[0], Handoff)


async def test_an_unknown_session_cannot_be_followed(make_hub: MakeHub) -> None:
    hub = await make_hub()
    assert await hub.find("s1") is None
    with pytest.raises(Unavailable):
        await hub.follow("s1", 0)


async def test_frames_beyond_the_cap_are_trimmed_and_a_follow_from_before_them_fails(
    make_hub: MakeHub,
) -> None:
    hub = await make_hub(cap=50)
    log = await hub.open(state(), no_control)
    assert log is not None
    for seq in range(1, 401):
        log.append(seq, "x")
    await log.handoff(state(400))
    with pytest.raises(Unavailable):
        await collect(hub, 0)
    items = await collect(hub, 395)  # the newest frames are kept
    assert [i.seq for i in items if isinstance(i, Frame)] == [396, 397, 398, 399, 400]


async def test_a_control_reaches_the_owner_from_another_node(make_hub: MakeHub) -> None:
    owner_hub, other_hub = await make_hub(), await make_hub()
    owner = Recorder()
    assert await owner_hub.open(state(), owner) is not None
    await other_hub.control("s1", CancelTurn(turn_id=2, played_ms=150))
    await other_hub.control("s1", CancelTurn(turn_id=None, played_ms=None))
    assert await owner.next() == CancelTurn(turn_id=2, played_ms=150)
    assert await owner.next() == CancelTurn(turn_id=None, played_ms=None)


async def test_a_session_has_one_owner_until_it_is_handed_off(make_hub: MakeHub) -> None:
    first, second = await make_hub(), await make_hub()
    log = await first.open(state(), no_control)
    assert log is not None
    assert await second.open(state(), no_control) is None
    log.append(1, "a")
    await log.handoff(state(1))
    assert await second.open(state(1), no_control) is not None


async def test_the_next_owner_continues_the_same_log_after_the_handoff(make_hub: MakeHub) -> None:
    first, second = await make_hub(), await make_hub()
    log = await first.open(state(), no_control)
    assert log is not None
    for seq in (1, 2, 3):
        log.append(seq, f"a{seq}")
    await log.handoff(state(3))
    assert (await second.find("s1")) == state(3)
    log2 = await second.open(state(3), no_control)
    assert log2 is not None
    log2.append(4, "b4")
    log2.append(5, b"b5")
    await log2.handoff(state(5))
    # The first owner's handoff is gone: a follower goes straight on into the second part.
    items = await collect(first, 2)
    assert [(i.seq, i.data) for i in items if isinstance(i, Frame)] == [
        (3, "a3"),
        (4, "b4"),
        (5, b"b5"),
    ]
    assert isinstance(items[-1], Handoff) and items[-1].state.seq == 5


async def test_a_follower_takes_over_from_an_owner_whose_process_died(redis_prefix: str) -> None:
    url = require_redis()
    dead = RedisHub(url, ttl_s=60, cap=100, prefix=redis_prefix)
    alive = RedisHub(url, ttl_s=60, cap=100, prefix=redis_prefix)
    await dead.start()
    await alive.start()
    try:
        log = await dead.open(state(running_turn=2), no_control)
        assert log is not None
        for seq in (1, 2, 3):
            log.append(seq, f"f{seq}")
        await log.save(state(2, running_turn=2, next_turn=3))
        await logged(dead, 3)
        # The process dies: no handoff, its heartbeat stops.
        for task in dead._background:
            task.cancel()
        await dead.redis.delete(dead._node_key(dead.node))
        items = await asyncio.wait_for(collect(alive, 1), HANG_S)
        assert [i.seq for i in items if isinstance(i, Frame)] == [2, 3]
        handoff = items[-1]
        assert isinstance(handoff, Handoff) and handoff.orphaned
        assert handoff.state.seq == 3 and handoff.state.running_turn == 2
        # and the session can be owned again
        assert await alive.open(handoff.state, no_control) is not None
    finally:
        await alive.close()
        await dead.redis.aclose()


async def test_redis_keys_expire_after_the_resume_window(redis_prefix: str) -> None:
    hub = RedisHub(require_redis(), ttl_s=30, cap=100, prefix=redis_prefix)
    await hub.start()
    try:
        log = await hub.open(state(), no_control)
        assert log is not None
        log.append(1, "a")
        await log.handoff(state(1))
        for key in (hub._key("s1", "log"), hub._key("s1", "state")):
            assert 0 < await hub.redis.ttl(key) <= 30
        assert not await hub.redis.exists(hub._key("s1", "owner"))
    finally:
        await hub.close()


async def test_a_memory_log_is_forgotten_after_the_resume_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]  # the hub's clock, moved by hand
    monkeypatch.setattr("voicewire.resume.memory.time", SimpleNamespace(monotonic=lambda: now[0]))
    hub = MemoryHub(ttl_s=30, cap=100)
    log = await hub.open(state(), no_control)
    assert log is not None
    log.append(1, "a")
    await log.handoff(state(1))
    now[0] += 29
    assert await hub.find("s1") == state(1)
    now[0] += 2
    assert await hub.find("s1") is None


async def test_a_handoff_after_missing_frames_is_unavailable_not_a_silent_gap(
    make_hub: MakeHub,
) -> None:
    hub = await make_hub()
    log = await hub.open(state(), no_control)
    assert log is not None
    log.append(1, "a")
    log.append(2, "b")
    await log.handoff(state(5))  # frames 3 to 5 never reached the log
    with pytest.raises(Unavailable):
        await collect(hub, 2)


async def test_frames_forgotten_as_delivered_are_dropped_and_later_ones_replayed(
    make_hub: MakeHub,
) -> None:
    hub = await make_hub()
    log = await hub.open(state(), no_control)
    assert log is not None
    for seq in range(1, 5):
        log.append(seq, f"f{seq}")
    log.trim(4)
    log.append(5, "f5")
    await log.handoff(state(5))
    if isinstance(hub, MemoryHub):  # Redis trims approximately: whole stream nodes at a time
        with pytest.raises(Unavailable):
            await collect(hub, 2)
    items = await collect(hub, 4)
    assert [i.seq for i in items if isinstance(i, Frame)] == [5]


async def test_an_idle_session_keeps_its_owner_past_the_resume_window(
    redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = require_redis()
    owner = RedisHub(url, ttl_s=1, cap=100, prefix=redis_prefix)
    other = RedisHub(url, ttl_s=1, cap=100, prefix=redis_prefix)
    beats = 0
    beat = owner._beat

    async def counted_beat() -> None:
        nonlocal beats
        await beat()
        beats += 1

    monkeypatch.setattr(owner, "_beat", counted_beat)
    await owner.start()
    await other.start()
    told = Recorder()
    try:
        log = await owner.open(state(), told)
        assert log is not None
        log.append(1, "a")
        await logged(owner, 1)
        # No frame for longer than ttl_s, as Redis counts it: a key set now to expire with the
        # window is gone...
        window = owner._key("s1", "window")
        await owner.redis.set(window, "1", ex=owner.ttl)

        async def window_passed() -> bool:
            return not await owner.redis.exists(window)

        await until(window_passed, "Redis to expire a key set with the resume window")
        assert await other.open(state(1), no_control) is None
        # ...and the heartbeat keeps it owned.
        since = beats
        await until(lambda: beats > since, "a heartbeat after the resume window")
        assert await other.open(state(1), no_control) is None
        await other.control("s1", Takeover())
        assert await told.next() == Takeover()
    finally:
        await owner.close()
        await other.close()


# ---------------------------------------------------------------- fencing, races, latest wins


class Recorder:
    """An owner's `on_control` that keeps what it was told."""

    def __init__(self) -> None:
        self.controls: asyncio.Queue[Control] = asyncio.Queue()

    async def __call__(self, control: Control) -> None:
        await self.controls.put(control)

    async def next(self) -> Control:
        """The next control the owner is told (it may come from another node, via Redis)."""
        return await asyncio.wait_for(self.controls.get(), HANG_S)

    def told(self) -> list[Control]:
        items = []
        while not self.controls.empty():
            items.append(self.controls.get_nowait())
        return items


async def test_a_log_that_handed_off_writes_nothing_into_the_next_owners_log(
    make_hub: MakeHub,
) -> None:
    first, second = await make_hub(), await make_hub()
    old_owner = Recorder()
    old = await first.open(state(), old_owner)
    assert old is not None
    old.append(1, "a1")
    await old.handoff(state(1))
    new = await second.open(state(1), no_control)
    assert new is not None
    # The first owner's handle outlives its part: whatever it still writes is refused.
    old.append(2, "stale")
    await old.save(state(9, voice_name="stale"))
    await old.handoff(state(9, voice_name="stale"))
    new.append(2, "b2")
    await new.handoff(state(2))
    items = await collect(second, 0)
    assert [(i.seq, i.data) for i in items if isinstance(i, Frame)] == [(1, "a1"), (2, "b2")]
    assert isinstance(items[-1], Handoff) and items[-1].state == state(2)
    assert await second.find("s1") == state(2)
    await asyncio.sleep(0)  # a Takeover would have been delivered by now
    assert old_owner.told() == []  # it gave the session up itself: nobody to tell
    assert not old.lost


async def test_two_opens_of_one_session_at_once_make_one_owner(make_hub: MakeHub) -> None:
    first, second = await make_hub(), await make_hub()
    log = await first.open(state(), no_control)
    assert log is not None
    await log.handoff(state(0))
    opened = await asyncio.gather(first.open(state(), no_control), second.open(state(), no_control))
    assert sum(o is not None for o in opened) == 1


async def test_an_older_snapshot_saved_after_a_newer_one_does_not_replace_it(
    make_hub: MakeHub,
) -> None:
    hub = await make_hub()
    log = await hub.open(state(), no_control)
    assert log is not None
    await log.save(state(5, next_turn=3))
    await log.save(state(3, next_turn=2))
    assert await hub.find("s1") == state(5, next_turn=3)
    # At the same seq, the snapshot saved later is the newer one.
    await log.save(state(5, next_turn=3, voice_name="later"))
    assert await hub.find("s1") == state(5, next_turn=3, voice_name="later")


async def test_the_next_owner_starts_from_its_own_state_whatever_the_last_one_saved(
    make_hub: MakeHub,
) -> None:
    first, second = await make_hub(), await make_hub()
    log = await first.open(state(), no_control)
    assert log is not None
    await log.save(state(7, voice_name="first"))
    await log.handoff(state(7, voice_name="first"))
    log2 = await second.open(state(7), no_control)
    assert log2 is not None
    assert await second.find("s1") == state(7)
    await log2.save(state(7, running_text="Sure"))  # same seq, newer owner: it wins
    assert await second.find("s1") == state(7, running_text="Sure")


async def test_takeover_reaches_the_owner_once_and_other_controls_every_time(
    make_hub: MakeHub,
) -> None:
    owner_hub, other_hub = await make_hub(), await make_hub()
    owner = Recorder()
    assert await owner_hub.open(state(), owner) is not None
    await other_hub.control("s1", Takeover())
    await other_hub.control("s1", Takeover())  # a second resume: nothing more to let go of
    await other_hub.control("s1", CancelTurn(turn_id=1, played_ms=None))
    assert await owner.next() == Takeover()
    assert await owner.next() == CancelTurn(1, None)
    assert owner.told() == []


async def test_closing_the_redis_hub_ends_even_if_its_heartbeat_swallows_the_cancel(
    redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On Python 3.11, asyncio.wait_for (redis-py wraps every send in it) swallows a cancel that
    # lands as the send completes: the heartbeat's loop went on beating, and close() — the
    # server's shutdown — waited for it forever (a process alive 120 s after SIGTERM).
    monkeypatch.setattr("voicewire.resume.redis.HEARTBEAT_S", 0.01)
    hub = RedisHub(require_redis(), ttl_s=30, cap=100, prefix=redis_prefix)
    beating = asyncio.Event()
    beats = 0

    async def beat() -> None:
        nonlocal beats
        beats += 1
        if beats == 1:
            beating.set()
            try:
                await asyncio.Event().wait()  # a send under way when close() cancels
            except asyncio.CancelledError:
                return  # swallowed, as wait_for does when the send has just completed

    monkeypatch.setattr(hub, "_beat", beat)
    await hub.start()
    await asyncio.wait_for(beating.wait(), HANG_S)
    closing = asyncio.create_task(hub.close())
    # Either close() ends, or the heartbeat it cancelled beats on (every 10 ms here).
    await until(lambda: closing.done() or beats > 2, "close() to end or the heartbeat to go on")
    assert beats == 1 and closing.done()
    assert all(task.done() for task in hub._background)


class SwallowingLog(ReplayLog):
    """A replay log whose first save swallows the cancel that lands on it (as redis-py's sends
    do on Python 3.11 when the cancel lands as the send completes)."""

    def __init__(self) -> None:
        self.saving = asyncio.Event()
        self.handed_off: list[SessionState] = []

    @property
    def lost(self) -> bool:
        return False

    def append(self, seq: int, data: str | bytes) -> None:
        pass

    def trim(self, through_seq: int) -> None:
        pass

    async def save(self, state: SessionState) -> None:
        if not self.saving.is_set():
            self.saving.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()

    async def handoff(self, state: SessionState) -> None:
        self.handed_off.append(state)


class OneLogHub(MemoryHub):
    def __init__(self, log: ReplayLog) -> None:
        super().__init__(ttl_s=30, cap=100)
        self.the_log = log

    async def open(self, state: SessionState, on_control: OnControl) -> ReplayLog | None:
        return self.the_log


async def test_a_handoff_ends_even_if_the_state_saver_swallows_its_cancel() -> None:
    # The connection's end waited for a saver that swallowed its cancel and then waited for
    # the next change forever: the session was never handed off, the connection never ended.
    replay = SwallowingLog()
    out: Any = SimpleNamespace(log=None)
    session_log = SessionLog(
        OneLogHub(replay), out, lambda: state(3), no_control, asyncio.create_task
    )
    assert await session_log.own(state())
    session_log.changed()
    await asyncio.wait_for(replay.saving.wait(), HANG_S)
    handing_off = asyncio.create_task(session_log.hand_off())
    await until(lambda: handing_off.done() or replay.handed_off, "the handoff")
    await asyncio.wait_for(handing_off, HANG_S)
    assert replay.handed_off == [state(3)]
