"""Replay logs in this process's memory: resume on one process, no extra service.

The same fencing as in Redis: each `open` is a new generation of the session's owner, and a
handle of an older one (it handed off, and the session was opened again) writes nothing.
Nothing here awaits between checking the owner and writing, so each call is atomic.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator

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
from voicewire.resume.ownership import Ownership


class _Log:
    def __init__(self, state: SessionState, cap: int) -> None:
        self.frames: deque[Frame] = deque(maxlen=cap)
        self.state = state
        self.saved = (state.seq, 0)  # (seq, save number) of `state`: the latest wins
        self.handoff: Handoff | None = None
        self.owner: Ownership | None = None
        self.generation = 0  # the fencing number: one more at every open
        self.changed = asyncio.Event()  # replaced by a new one at every change
        self.touched = time.monotonic()
        self.appended = state.seq  # the last seq ever logged, trimmed or not

    def wake(self) -> None:
        self.touched = time.monotonic()
        self.changed.set()
        self.changed = asyncio.Event()

    @property
    def last_seq(self) -> int:
        return max(self.appended, self.state.seq)


class _MemoryReplayLog(ReplayLog):
    def __init__(self, log: _Log, owner: Ownership) -> None:
        self.log, self.owner = log, owner

    @property
    def lost(self) -> bool:
        return self.owner.lost

    def _owns(self, what: str) -> bool:
        """Fencing: does this handle's generation still own the session?"""
        if self.log.owner is self.owner:
            return True
        if not self.owner.released:
            self.owner.lose(what)
        return False

    def append(self, seq: int, data: str | bytes) -> None:
        if not self._owns("a frame"):
            return
        self.log.frames.append(Frame(seq, data))
        self.log.appended = seq
        self.log.wake()

    def trim(self, through_seq: int) -> None:
        if not self._owns("a trim"):
            return
        frames = self.log.frames
        while frames and frames[0].seq <= through_seq:
            frames.popleft()

    async def save(self, state: SessionState) -> None:
        if not self._owns("a snapshot"):
            return
        self.owner.saves += 1
        order = (state.seq, self.owner.saves)
        if order > self.log.saved:
            self.log.state, self.log.saved = state, order

    async def handoff(self, state: SessionState) -> None:
        if not self._owns("the handoff"):
            return
        log = self.log
        log.state = state
        log.handoff = Handoff(state)
        log.owner = None
        self.owner.released = True
        log.wake()


class MemoryHub(Hub):
    def __init__(self, *, ttl_s: float, cap: int) -> None:
        self.node = uuid.uuid4().hex[:12]
        self.ttl_s, self.cap = ttl_s, cap
        self.logs: dict[str, _Log] = {}

    def _sweep(self) -> None:
        now = time.monotonic()
        for sid, log in list(self.logs.items()):
            if log.owner is None and now - log.touched > self.ttl_s:
                del self.logs[sid]

    async def open(self, state: SessionState, on_control: OnControl) -> ReplayLog | None:
        self._sweep()
        log = self.logs.get(state.session_id)
        if log is None:
            log = self.logs[state.session_id] = _Log(state, self.cap)
        elif log.owner is not None:
            return None  # owned, by this very process: alive (no await above: atomic)
        log.generation += 1
        owner = Ownership(state.session_id, log.generation, on_control)
        log.owner, log.handoff, log.state, log.saved = owner, None, state, (state.seq, 0)
        log.touched = time.monotonic()
        return _MemoryReplayLog(log, owner)

    async def find(self, session_id: str) -> SessionState | None:
        self._sweep()
        log = self.logs.get(session_id)
        return None if log is None else log.state

    async def follow(self, session_id: str, after_seq: int) -> AsyncIterator[Frame | Handoff]:
        log = self.logs.get(session_id)
        if log is None:
            raise Unavailable("unknown or expired session")
        frames = log.frames
        if after_seq > log.last_seq:
            raise Unavailable(f"seq {after_seq} was never sent")
        first = frames[0].seq if frames else log.last_seq + 1
        if after_seq < log.last_seq and first > after_seq + 1:
            raise Unavailable(f"frames after seq {after_seq} are no longer kept")
        return _follow(log, after_seq)

    async def alive(self, node: str) -> bool:
        return node == self.node  # one process: every other node is an earlier run of it

    async def control(self, session_id: str, control: Control) -> None:
        log = self.logs.get(session_id)
        if log is not None and log.owner is not None:
            await log.owner.deliver(control)


async def _follow(log: _Log, position: int) -> AsyncIterator[Frame | Handoff]:
    frames = log.frames
    while True:
        changed = log.changed
        pending = _after(frames, position)
        if not pending and log.handoff is None:
            await changed.wait()
            continue
        for frame in pending:
            if frame.seq != position + 1:
                raise Unavailable(f"frames after seq {position} are no longer kept")
            position = frame.seq
            yield frame
        if log.handoff is not None and not _after(frames, position):
            if log.handoff.state.seq != position:
                raise Unavailable(f"frames after seq {position} are no longer kept")
            yield log.handoff
            return


def _after(frames: deque[Frame], seq: int) -> list[Frame]:
    """The frames after `seq` (seqs in a log are consecutive)."""
    if not frames:
        return []
    start = max(0, seq + 1 - frames[0].seq)
    return list(itertools.islice(frames, start, None))
