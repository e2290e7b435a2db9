"""Ownership with a generation number, on the real Redis with two or three hubs ("nodes"):
a takeover is one compare-and-set, and a node that lost its session writes nothing into it.
(The memory hub's side of it is in the contract of test_hubs.py, and pinned at the end.)

A node's death or partition is simulated without waiting: its heartbeat task is cancelled and
its heartbeat key deleted, as if the key had expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest

from tests.resume.conftest import require_redis
from tests.resume.test_hubs import Recorder, collect, no_control, state
from voicewire.resume import CancelTurn, Frame, Handoff, Takeover
from voicewire.resume.memory import MemoryHub
from voicewire.resume.redis import RedisHub

Nodes = Callable[[int], Awaitable[list[RedisHub]]]
T = TypeVar("T")


@pytest.fixture
async def nodes(redis_prefix: str) -> AsyncIterator[Nodes]:
    made: list[RedisHub] = []

    async def make(count: int) -> list[RedisHub]:
        url = require_redis()
        hubs = [RedisHub(url, ttl_s=60, cap=1000, prefix=redis_prefix) for _ in range(count)]
        for hub in hubs:
            await hub.start()
        made.extend(hubs)
        return hubs

    yield make
    for hub in made:
        with contextlib.suppress(Exception):
            await hub.close()


async def cut_off(hub: RedisHub) -> None:
    """The node stops beating (dead, or cut off from Redis): its heartbeat key is gone."""
    hub._background[0].cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await hub._background[0]
    await hub.redis.delete(hub._node_key(hub.node))


async def test_a_node_back_from_a_partition_cannot_write_into_the_log_its_session_moved_to(
    nodes: Nodes,
) -> None:
    a, b = await nodes(2)
    a_owner = Recorder()
    a_log = await a.open(state(), a_owner)
    assert a_log is not None
    a_log.append(1, "a1")
    await a_log.save(state(1))
    await a_log._drain()  # type: ignore[attr-defined]
    await cut_off(a)
    b_log = await b.open(state(1), no_control)  # A looks dead: B takes the session over
    assert b_log is not None
    b_log.append(2, "b2")
    # A comes back, unaware: its frames, snapshot and handoff are all refused...
    a_log.append(2, "a2")
    a_log.append(3, "a3")
    await a_log.save(state(3, voice_name="a"))
    await a_log.handoff(state(3, voice_name="a"))
    # ...and its connection is told to let go, once.
    assert await a_owner.next() == Takeover()
    assert a_log.lost and not b_log.lost
    a_log.append(4, "a4")
    await b_log.handoff(state(2))
    items = await collect(b, 0)
    assert [(i.seq, i.data) for i in items if isinstance(i, Frame)] == [(1, "a1"), (2, "b2")]
    assert isinstance(items[-1], Handoff) and items[-1].state == state(2)
    assert await b.find("s1") == state(2)
    assert a_owner.told() == []


async def test_a_node_back_from_a_partition_is_refused_after_the_new_owner_handed_off_too(
    nodes: Nodes,
) -> None:
    a, b = await nodes(2)
    a_owner = Recorder()
    a_log = await a.open(state(), a_owner)
    assert a_log is not None
    await cut_off(a)
    b_log = await b.open(state(), no_control)
    assert b_log is not None
    b_log.append(1, "b1")
    await b_log.handoff(state(1))  # nobody owns the session now, but a later generation did
    await a_log.save(state(5, voice_name="a"))
    assert await a_owner.next() == Takeover()
    assert await b.find("s1") == state(1)


async def test_an_owner_whose_keys_redis_lost_keeps_its_session(nodes: Nodes) -> None:
    a, b = await nodes(2)
    a_owner = Recorder()
    a_log = await a.open(state(), a_owner)
    assert a_log is not None
    await a_log.save(state(0))
    # Redis lost the owner key (and the generation counter): nobody has opened the session
    # since, so the owner's next write, or its heartbeat, owns it again.
    for keys in (("owner",), ("owner", "gen")):
        await a.redis.delete(*(a._key("s1", key) for key in keys))
        a_log.append(len(keys), f"a{len(keys)}")
        await a_log._drain()  # type: ignore[attr-defined]
        assert await b.open(state(), no_control) is None
        await a.redis.delete(*(a._key("s1", key) for key in keys))
        await a._beat()
        assert await b.open(state(), no_control) is None
    await a_log.handoff(state(2))
    assert [i.seq for i in await collect(b, 0) if isinstance(i, Frame)] == [1, 2]
    assert a_owner.told() == []


async def test_the_heartbeat_of_a_node_back_from_a_partition_lets_go_of_a_lost_session(
    nodes: Nodes,
) -> None:
    a, b = await nodes(2)
    a_owner = Recorder()
    assert await a.open(state(), a_owner) is not None
    await cut_off(a)
    assert await b.open(state(), no_control) is not None
    await a._beat()  # A beats again: the session is not its own any more
    assert await a_owner.next() == Takeover()


async def test_two_resumes_taking_over_from_a_dead_owner_at_once_make_one_owner(
    nodes: Nodes,
) -> None:
    dead, b, c = await nodes(3)
    sessions = [f"s{i}" for i in range(5)]
    for sid in sessions:
        assert await dead.open(state(session_id=sid), no_control) is not None
    await cut_off(dead)
    for sid in sessions:
        # On two nodes, and twice on one node (two connections of one process).
        for first, second in ((b, c), (b, b)):
            opened = await asyncio.gather(
                first.open(state(session_id=sid), no_control),
                second.open(state(session_id=sid), no_control),
            )
            assert sum(o is not None for o in opened) == 1, sid
            owned = next(o for o in opened if o is not None)
            await owned.handoff(state(session_id=sid))


async def test_a_newer_snapshot_survives_an_older_one_that_reaches_redis_after_it(
    nodes: Nodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    (hub,) = await nodes(1)
    log = await hub.open(state(), no_control)
    assert log is not None
    arrived, release = asyncio.Event(), asyncio.Event()
    execute: Callable[..., Awaitable[Any]] = hub.redis.execute_command

    async def held_back(*args: Any, **options: Any) -> Any:
        """Holds the commands that carry the older snapshot until the newer one is saved."""
        if not release.is_set() and any(b"older" in _bytes(a) for a in args):
            arrived.set()
            await release.wait()
        return await execute(*args, **options)

    monkeypatch.setattr(hub.redis, "execute_command", held_back)
    for older, newer in (
        (state(3, voice_name="older"), state(5, voice_name="newer")),
        (state(6, voice_name="older"), state(6, voice_name="newer")),  # one seq: later call
    ):
        arrived.clear()
        release.clear()
        first = asyncio.create_task(log.save(older))  # called first, reaches Redis last
        await arrived.wait()
        await log.save(newer)
        release.set()
        await first
        assert await hub.find("s1") == newer


async def test_a_malformed_control_message_is_dropped_and_the_listener_goes_on(
    nodes: Nodes, caplog: pytest.LogCaptureFixture
) -> None:
    (hub,) = await nodes(1)
    owner = Recorder()
    assert await hub.open(state(), owner) is not None
    channel = hub._node_key(hub.node)
    for junk in (
        b"\xff not json",
        b"[]",
        b'{"type": "takeover"}',  # no session
        b'{"type": "explode", "sid": "s1"}',
        b'{"type": "cancel", "sid": "s1", "turn_id": "2", "played_ms": null}',
        b'{"type": "cancel", "sid": "s1", "turn_id": true, "played_ms": null}',
    ):
        await hub.redis.publish(channel, junk)
    await hub.redis.publish(channel, b'{"type": "cancel", "sid": "s1", "turn_id": 2}')
    await hub.redis.publish(channel, b'{"type": "takeover", "sid": "s1"}')
    assert await owner.next() == CancelTurn(2, None)
    assert await owner.next() == Takeover()
    dropped = [r for r in caplog.records if "dropped a control message" in r.getMessage()]
    assert len(dropped) == 6 and all(r.levelno == logging.WARNING for r in dropped)


async def test_an_open_on_the_memory_hub_cannot_be_interleaved() -> None:
    """Why two opens at once make one owner in memory: `open` never suspends before it owns
    (it finishes at its first step), so no other task can come in between; nor does `save`,
    so snapshots land in call order (and the later seq wins)."""
    hub = MemoryHub(ttl_s=60, cap=100)
    first = finished_in_one_step(hub.open(state(), no_control))
    second = finished_in_one_step(hub.open(state(), no_control))
    assert first is not None and second is None
    finished_in_one_step(first.save(state(2)))
    finished_in_one_step(first.save(state(1)))
    assert await hub.find("s1") == state(2)


def finished_in_one_step(coroutine: Coroutine[Any, Any, T]) -> T:
    with pytest.raises(StopIteration) as finished:
        coroutine.send(None)
    result: T = finished.value.value
    return result


def _bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode()
