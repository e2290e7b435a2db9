"""Replay logs in Redis Streams, so that any server process can serve a resume.

Keys (prefix `vw:`), all expiring `resume_ttl_s` after the session's last write:
- `s:{sid}:log`  a stream; a frame's entry id is `{seq}-0` (so reading after a seq is reading
  after an id), a handoff's is `{seq}-*`; fields `k` (t text, b binary, h handoff), `d` (data).
  Capped at `resume_buffer_frames` entries.
- `s:{sid}:state` the last state snapshot (JSON); `s:{sid}:owner` the owning node.
- `node:{node}` a process's heartbeat (a few seconds' TTL); controls for the sessions a process
  owns are published on the channel of the same name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from voicewire.resume import (
    Control,
    Frame,
    Handoff,
    Hub,
    OnControl,
    ReplayLog,
    SessionState,
    Unavailable,
)

log = logging.getLogger(__name__)
HEARTBEAT_S = 2.0
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"
NODE_TTL_S = 6
FOLLOW_BLOCK_MS = 1000
MAX_PENDING = 8192  # frames waiting for Redis, per session; beyond, Redis is not keeping up


class RedisHub(Hub):
    def __init__(self, url: str, *, ttl_s: float, cap: int, prefix: str = "vw") -> None:
        # Timeouts: a Redis that stops answering must not hold a session (or its slot) forever.
        self.redis: Redis = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.node = uuid.uuid4().hex[:12]
        self.ttl = max(1, int(ttl_s))
        self.owner_ttl = max(self.ttl, int(3 * HEARTBEAT_S))  # outlives a missed heartbeat
        self.cap = cap
        self.prefix = prefix
        self.handlers: dict[str, OnControl] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._background: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------ keys

    def _key(self, sid: str, what: str) -> str:
        return f"{self.prefix}:s:{sid}:{what}"

    def _node_key(self, node: str) -> str:
        return f"{self.prefix}:node:{node}"

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self.redis.ping()
        await self.redis.set(self._node_key(self.node), "1", ex=NODE_TTL_S)
        subscribed = asyncio.get_running_loop().create_future()
        self._background = [
            asyncio.create_task(self._heartbeat()),
            asyncio.create_task(self._listen(subscribed)),
        ]
        await subscribed

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError, RedisError):
                await task
        with contextlib.suppress(RedisError):
            await self.redis.delete(self._node_key(self.node))
        await self.redis.aclose()

    async def _heartbeat(self) -> None:
        """This process is alive, and owns its sessions (their owner keys do not expire)."""
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.set(self._node_key(self.node), "1", ex=NODE_TTL_S)
                    for sid in list(self.handlers):
                        # A quiet session stays resumable for as long as it lives.
                        pipe.expire(self._key(sid, "owner"), self.owner_ttl)
                        pipe.expire(self._key(sid, "log"), self.ttl)
                        pipe.expire(self._key(sid, "state"), self.ttl)
                    await pipe.execute()
            except RedisError as exc:
                log.warning("redis heartbeat failed: %s", exc)

    async def _listen(self, subscribed: asyncio.Future[None]) -> None:
        """Controls for this process's sessions; resubscribes after Redis comes back."""
        delay = 0.2
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._node_key(self.node))
                    if not subscribed.done():
                        subscribed.set_result(None)
                    delay = 0.2
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=30.0
                        )
                        if message is not None:
                            self._dispatch(json.loads(message["data"]))
            except (RedisError, OSError) as exc:
                if not subscribed.done():
                    subscribed.set_exception(exc)
                    return
                log.warning("redis control channel lost, resubscribing: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _dispatch(self, control: Control) -> None:
        handler = self.handlers.get(control.pop("sid", ""))
        if handler is not None:
            task = asyncio.create_task(handler(control))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def alive(self, node: str) -> bool:
        return await self._alive(node)

    async def _alive(self, node: bytes | str | None) -> bool:
        if node is None:
            return False
        node = _text(node)
        return node == self.node or bool(await self.redis.exists(self._node_key(node)))

    # ------------------------------------------------------------ the hub

    async def open(self, state: SessionState, on_control: OnControl) -> ReplayLog | None:
        sid = state.session_id
        owner_key = self._key(sid, "owner")
        if not await self.redis.set(owner_key, self.node, nx=True, ex=self.owner_ttl):
            # Owned: by a live process (refused), or by one that died (taken over).
            if await self._alive(await self.redis.get(owner_key)):
                return None
            await self.redis.set(owner_key, self.node, ex=self.owner_ttl)
        self.handlers[sid] = on_control
        # The previous owner's handoff ended its part of the log; ours follows without it.
        key = self._key(sid, "log")
        markers = await self.redis.xrange(key, f"{state.seq}-1", f"{state.seq}-{2**64 - 1}")
        async with self.redis.pipeline(transaction=False) as pipe:
            if markers:
                pipe.xdel(key, *(cast(bytes, entry_id) for entry_id, _ in markers))
            pipe.set(self._key(sid, "state"), state.model_dump_json(), ex=self.ttl)
            await pipe.execute()
        return _RedisReplayLog(self, sid)

    async def find(self, session_id: str) -> SessionState | None:
        raw = await self.redis.get(self._key(session_id, "state"))
        return None if raw is None else SessionState.model_validate_json(raw)

    async def follow(self, session_id: str, after_seq: int) -> AsyncIterator[Frame | Handoff]:
        key = self._key(session_id, "log")
        first = await self.redis.xrange(key, count=1)
        if not first and await self.find(session_id) is None:
            raise Unavailable("unknown or expired session")
        if first and _seq(cast(bytes, first[0][0])) > after_seq + 1:
            raise Unavailable(f"frames after seq {after_seq} are no longer kept")
        return self._follow(session_id, after_seq)

    async def _follow(self, session_id: str, position: int) -> AsyncIterator[Frame | Handoff]:
        key = self._key(session_id, "log")
        cursor: bytes | str = f"{position}-0"
        while True:
            reply: Any = await self.redis.xread({key: cursor}, count=256, block=FOLLOW_BLOCK_MS)
            if not reply:
                owner = await self.redis.get(self._key(session_id, "owner"))
                if await self._alive(owner):
                    continue
                if await self.redis.xread({key: cursor}, count=1):
                    continue  # it handed off between our read and the owner check
                state = await self.find(session_id)
                if state is None:
                    raise Unavailable("the session expired")
                # Its owner died without a handoff: go on from the last frame it logged.
                yield Handoff(state.model_copy(update={"seq": position}), orphaned=True)
                return
            entries = cast(list[tuple[bytes, dict[bytes, bytes]]], reply[0][1])
            for entry_id, fields in entries:
                cursor = entry_id
                kind, data = fields[b"k"], fields[b"d"]
                if kind == b"h":
                    state = SessionState.model_validate_json(data)
                    if state.seq != position:
                        # Frames before the handoff are missing (a write to Redis failed).
                        raise Unavailable(f"frames after seq {position} were not all logged")
                    yield Handoff(state)
                    return
                seq = _seq(entry_id)
                if seq != position + 1:
                    raise Unavailable(f"frames after seq {position} are no longer kept")
                position = seq
                yield Frame(seq, data.decode() if kind == b"t" else bytes(data))

    async def control(self, session_id: str, control: Control) -> None:
        owner = await self.redis.get(self._key(session_id, "owner"))
        if owner is None:
            return
        node = _text(owner)
        if node == self.node:
            handler = self.handlers.get(session_id)
            if handler is not None:
                await handler(control)
            return
        message = json.dumps({**control, "sid": session_id})
        await self.redis.publish(self._node_key(node), message)


class _RedisReplayLog(ReplayLog):
    """Frames are queued and written by one background task, pipelined, in seq order."""

    def __init__(self, hub: RedisHub, sid: str) -> None:
        self.hub, self.sid = hub, sid
        self.pending: list[tuple[int, str | bytes]] = []
        self.writer: asyncio.Task[None] | None = None
        self.trim_through = 0  # trimmed with the next batch

    def append(self, seq: int, data: str | bytes) -> None:
        if len(self.pending) >= MAX_PENDING:
            # Redis is not keeping up: drop; a resume needing these frames says so (a gap).
            log.warning("session %s: redis behind, frame %d not logged", self.sid, seq)
            return
        self.pending.append((seq, data))
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._write())

    def trim(self, through_seq: int) -> None:
        self.trim_through = through_seq  # with the next batch of frames

    async def _write(self) -> None:
        hub, key = self.hub, self.hub._key(self.sid, "log")
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                async with hub.redis.pipeline(transaction=False) as pipe:
                    for seq, data in batch:
                        kind = b"t" if isinstance(data, str) else b"b"
                        fields: dict[Any, Any] = {b"k": kind, b"d": data}
                        pipe.xadd(key, fields, id=f"{seq}-0", maxlen=hub.cap, approximate=True)
                    if self.trim_through:
                        pipe.xtrim(key, minid=f"{self.trim_through + 1}-0", approximate=True)
                        self.trim_through = 0
                    pipe.expire(key, hub.ttl)
                    pipe.expire(hub._key(self.sid, "owner"), hub.owner_ttl)
                    await pipe.execute()
            except RedisError as exc:
                # The frames went to the client; only a later resume misses them (and says so).
                log.warning("session %s: %d frames not logged: %s", self.sid, len(batch), exc)

    async def _drain(self) -> None:
        while self.writer is not None and not self.writer.done():
            await asyncio.shield(self.writer)

    async def save(self, state: SessionState) -> None:
        await self.hub.redis.set(
            self.hub._key(self.sid, "state"), state.model_dump_json(), ex=self.hub.ttl
        )

    async def handoff(self, state: SessionState) -> None:
        hub = self.hub
        await self._drain()
        hub.handlers.pop(self.sid, None)
        key = hub._key(self.sid, "log")
        async with hub.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, {b"k": b"h", b"d": state.model_dump_json()}, id=f"{state.seq}-*")
            pipe.expire(key, hub.ttl)
            pipe.set(hub._key(self.sid, "state"), state.model_dump_json(), ex=hub.ttl)
            # The owner key goes only if it is still ours.
            pipe.eval(RELEASE, 1, hub._key(self.sid, "owner"), hub.node)
            await pipe.execute()


def _seq(entry_id: bytes | str) -> int:
    return int(_text(entry_id).partition("-")[0])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
