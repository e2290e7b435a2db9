"""One owner's hold on a session, shared by both hubs: its generation and its line to the
connection that owns the session.

A hub fences every log write with it. The first write refused because another owner has the
session since (a node back from a partition, a handle that outlived its owner) stops the log and
tells the connection `Takeover()`; it is told once, however many writes — or `takeover`
controls from a resuming connection — said so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from voicewire.resume import Control, OnControl, Takeover

log = logging.getLogger(__name__)


class Ownership:
    def __init__(self, session_id: str, generation: int, on_control: OnControl) -> None:
        self.session_id = session_id
        self.generation = generation  # fencing number: a later owner's is higher
        self.on_control = on_control
        self.lost = False  # another owner has the session: nothing more is written
        self.released = False  # handed off (or handing off): a refusal is our own doing
        self.saves = 0  # of two snapshots with one seq, the later-saved wins
        self._told = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def writable(self) -> bool:
        return not (self.lost or self.released)

    async def deliver(self, control: Control) -> None:
        if isinstance(control, Takeover):
            if self._told:
                return  # the connection has let go already
            self._told = True
        await self.on_control(control)

    def lose(self, what: str) -> None:
        """A write (`what`) was refused: another owner has the session now."""
        if self.lost or self.released:
            return  # told already; or we gave the session up ourselves
        self.lost = True
        log.warning(
            "session %s: %s refused, another owner has it; generation %d lets go",
            self.session_id,
            what,
            self.generation,
        )
        self.spawn(self.deliver(Takeover()))

    def spawn(self, delivery: Coroutine[Any, Any, None]) -> None:
        """Run a delivery in the background: the refused writer must not wait for the handler."""
        task = asyncio.create_task(delivery)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "session %s: control handler failed",
                self.session_id,
                exc_info=task.exception(),
            )
