"""A session's log in Redis, as its owner writes it (see `redis.py` for the keys).

Frames are queued and written by one background task, in seq order; every write is one of the
fenced `redis_lua` scripts, so a writer that no longer owns the session writes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from voicewire.resume import ReplayLog, SessionState
from voicewire.resume.ownership import Ownership

if TYPE_CHECKING:
    from voicewire.resume.redis import RedisHub

log = logging.getLogger(__name__)
MAX_PENDING = 8192  # frames waiting for Redis, per session; beyond, Redis is not keeping up
BATCH = 256  # frames per write script: one script must not hold Redis for long


class RedisReplayLog(ReplayLog):
    def __init__(self, hub: RedisHub, owner: Ownership) -> None:
        self.hub, self.owner, self.sid = hub, owner, owner.session_id
        self.token = f"{hub.node}:{owner.generation}"  # the owner key's value while we own
        self.pending: list[tuple[int, str | bytes]] = []
        self.writer: asyncio.Task[None] | None = None
        self.trim_through = 0  # trimmed with the next batch

    @property
    def lost(self) -> bool:
        return self.owner.lost

    def append(self, seq: int, data: str | bytes) -> None:
        if not self.owner.writable:
            return
        if len(self.pending) >= MAX_PENDING:
            # Redis is not keeping up: drop; a resume needing these frames says so (a gap).
            log.warning("session %s: redis behind, frame %d not logged", self.sid, seq)
            return
        self.pending.append((seq, data))
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._write())

    def trim(self, through_seq: int) -> None:
        self.trim_through = through_seq  # with the next batch of frames

    def keys(self, *what: str) -> list[str]:
        """The keys of a fenced script (see `redis_lua`): owner, gen, then `what`."""
        return self.hub._keys(self.sid, "owner", "gen", *what)

    def args(self, *more: Any) -> list[Any]:
        """The arguments of a fenced script: who writes, how long keys live, then `more`."""
        hub = self.hub
        return [self.token, self.owner.generation, hub.owner_ttl, hub.ttl, *more]

    async def _write(self) -> None:
        hub, keys = self.hub, self.keys("log")
        while self.pending and not self.owner.lost:
            batch, self.pending = self.pending[:BATCH], self.pending[BATCH:]
            trim = f"{self.trim_through + 1}-0" if self.trim_through else ""
            self.trim_through = 0
            args = self.args(hub.cap, trim)
            for seq, data in batch:
                args += [f"{seq}-0", b"t" if isinstance(data, str) else b"b", data]
            try:
                refused = await hub._eval(hub._append, keys, args)
            except RedisError as exc:
                # The frames went to the client; only a later resume misses them (and says so).
                log.warning("session %s: %d frames not logged: %s", self.sid, len(batch), exc)
                continue
            if refused < 0:
                self.pending.clear()
                self.owner.lose("a frame")
            elif refused:
                log.warning("session %s: %d frames not logged (out of order)", self.sid, refused)

    async def _drain(self) -> None:
        while self.writer is not None and not self.writer.done():
            await asyncio.shield(self.writer)

    async def save(self, state: SessionState) -> None:
        if not self.owner.writable:
            return
        self.owner.saves += 1  # numbered as called: the later call wins a tie on seq
        saved = await self.hub._eval(
            self.hub._save,
            self.keys("state"),
            self.args(state.model_dump_json(), state.seq, self.owner.saves),
        )
        if saved < 0:
            self.owner.lose("a snapshot")

    async def handoff(self, state: SessionState) -> None:
        hub = self.hub
        await self._drain()
        if hub.logs.get(self.sid) is self:
            del hub.logs[self.sid]
        if not self.owner.writable:
            return  # handed off already, or refused: another owner has the session
        self.owner.released = True  # a write refused from here on is refused because of us
        self.owner.saves += 1
        done = await hub._eval(
            hub._handoff,
            self.keys("log", "state"),
            self.args(state.model_dump_json(), state.seq, self.owner.saves),
        )
        if done < 0:
            self.owner.released = False
            self.owner.lose("the handoff")
