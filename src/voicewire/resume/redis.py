"""Replay logs in Redis Streams, so that any server process can serve a resume.

Keys (prefix `vw:`), all expiring `resume_ttl_s` after the session's last write:
- `s:{sid}:log`  a stream; a frame's entry id is `{seq}-0` (so reading after a seq is reading
  after an id), a handoff's is `{seq}-*`; fields `k` (t text, b binary, h handoff), `d` (data).
  Capped at `resume_buffer_frames` entries.
- `s:{sid}:state` a hash: the last state snapshot (`json`), and the `gen`, `seq` and save
  number `n` it was saved with (latest wins).
- `s:{sid}:owner` `{node}:{generation}`, the owner; `s:{sid}:gen` the last generation (INCR).
- `node:{node}` a process's heartbeat (a few seconds' TTL); controls for the sessions a process
  owns are published on the channel of the same name (JSON, see `encode_control`).

Ownership is fenced (see `redis_lua`): an open takes the session by compare-and-set, and every
write checks, in the same script, that the writer's generation still owns the session. A write
refused stops the log and tells its connection `Takeover()` (see `ownership`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from voicewire.resume import (
    BadControl,
    Control,
    Frame,
    Handoff,
    Hub,
    OnControl,
    ReplayLog,
    SessionState,
    Unavailable,
    decode_control,
    encode_control,
    redis_lua,
)
from voicewire.resume.ownership import Ownership
from voicewire.resume.redis_log import RedisReplayLog
from voicewire.tasks import stack

log = logging.getLogger(__name__)
HEARTBEAT_S = 2.0
NODE_TTL_S = 6
FOLLOW_BLOCK_MS = 1000


class RedisHub(Hub):
    def __init__(self, url: str, *, ttl_s: float, cap: int, prefix: str = "vw") -> None:
        # Timeouts: a Redis that stops answering must not hold a session (or its slot) forever.
        self.redis: Redis = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.node = uuid.uuid4().hex[:12]
        self.ttl = max(1, int(ttl_s))
        self.owner_ttl = max(self.ttl, int(3 * HEARTBEAT_S))  # outlives a missed heartbeat
        self.cap = cap
        self.prefix = prefix
        self.logs: dict[str, RedisReplayLog] = {}  # the sessions this process owns
        self._background: list[asyncio.Task[None]] = []
        self._closing = False
        script = self.redis.register_script
        self._open, self._append = script(redis_lua.OPEN), script(redis_lua.APPEND)
        self._save, self._handoff = script(redis_lua.SAVE), script(redis_lua.HANDOFF)
        self._touch = script(redis_lua.TOUCH)

    # ------------------------------------------------------------ keys

    def _key(self, sid: str, what: str) -> str:
        return f"{self.prefix}:s:{sid}:{what}"

    def _keys(self, sid: str, *what: str) -> list[str]:
        return [self._key(sid, w) for w in what]

    def _node_key(self, node: str) -> str:
        return f"{self.prefix}:node:{node}"

    async def _eval(self, script: AsyncScript, keys: list[str], args: list[Any]) -> int:
        """Run one of the `redis_lua` scripts (the one place tests interleave them)."""
        return int(await script(keys=keys, args=args))

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
        # The loops also stop at this flag: on Python 3.11 a cancel can be swallowed by the
        # `asyncio.wait_for` redis-py wraps every send in (when it lands as the send completes),
        # and a heartbeat that went on beating held the server's shutdown forever.
        self._closing = True
        for task in self._background:
            task.cancel()
        _, pending = await asyncio.wait(self._background, timeout=HEARTBEAT_S + 5)
        for task in pending:
            log.error("a redis task did not stop when the hub closed:\n%s", stack(task))
        for task in self._background:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.warning("a redis task ended with %r", task.exception())
        with contextlib.suppress(RedisError):
            await self.redis.delete(self._node_key(self.node))
        await self.redis.aclose()

    async def _heartbeat(self) -> None:
        while not self._closing:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self._beat()
            except RedisError as exc:
                log.warning("redis heartbeat failed: %s", exc)

    async def _beat(self) -> None:
        """This process is alive, and owns its sessions (their keys do not expire) — unless
        another owner took one over meanwhile (this process was cut off): then it lets go."""
        owned = list(self.logs.items())
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self._node_key(self.node), "1", ex=NODE_TTL_S)
            for _, rlog in owned:
                await self._touch(rlog.keys("log", "state"), rlog.args(), client=pipe)
            results = await pipe.execute()
        for (sid, rlog), held in zip(owned, results[1:], strict=True):
            if held < 0 and self.logs.get(sid) is rlog:  # not handed off meanwhile
                rlog.owner.lose("the heartbeat")

    async def _listen(self, subscribed: asyncio.Future[None]) -> None:
        """Controls for this process's sessions; resubscribes after Redis comes back."""
        delay = 0.2
        while not self._closing:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._node_key(self.node))
                    if not subscribed.done():
                        subscribed.set_result(None)
                    delay = 0.2
                    while not self._closing:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=30.0
                        )
                        if message is not None:
                            self._dispatch(message["data"])
            except (RedisError, OSError) as exc:
                if not subscribed.done():
                    subscribed.set_exception(exc)
                    return
                log.warning("redis control channel lost, resubscribing: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _dispatch(self, raw: Any) -> None:
        try:
            sid, control = decode_control(raw)
        except BadControl as exc:
            # Another version of voicewire, or not voicewire at all: never the listener's end.
            log.warning("dropped a control message: %s", exc)
            return
        rlog = self.logs.get(sid)
        if rlog is not None:
            rlog.owner.spawn(rlog.owner.deliver(control))

    async def alive(self, node: str) -> bool:
        return await self._alive(node)

    async def _alive(self, owner: bytes | str | None) -> bool:
        if owner is None:
            return False
        node = _node(owner)
        return node == self.node or bool(await self.redis.exists(self._node_key(node)))

    # ------------------------------------------------------------ the hub

    async def open(self, state: SessionState, on_control: OnControl) -> ReplayLog | None:
        sid = state.session_id
        generation = await self._eval(
            self._open,
            self._keys(sid, "owner", "gen", "log", "state"),
            [
                self.node,
                self._node_key(""),
                self.owner_ttl,
                self.ttl,
                state.model_dump_json(),
                state.seq,
            ],
        )
        if not generation:
            return None
        rlog = RedisReplayLog(self, Ownership(sid, generation, on_control))
        self.logs[sid] = rlog
        return rlog

    async def find(self, session_id: str) -> SessionState | None:
        raw = await self.redis.hget(self._key(session_id, "state"), "json")
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
        node = _node(owner)
        if node == self.node:
            rlog = self.logs.get(session_id)
            if rlog is not None:
                await rlog.owner.deliver(control)
            return
        await self.redis.publish(self._node_key(node), encode_control(session_id, control))


def _seq(entry_id: bytes | str) -> int:
    return int(_text(entry_id).partition("-")[0])


def _node(owner: bytes | str) -> str:
    """The node of an owner key's `{node}:{generation}`."""
    return _text(owner).rpartition(":")[0] or _text(owner)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
