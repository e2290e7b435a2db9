"""A session's replay log, from the owner's side (PROTOCOL.md §8): own it, keep the session's
latest state saved in it, hand it off.

Saves are latest-wins by construction: one saver task saves whatever the state is when it gets
to it, one save at a time, so a slow save is never overtaken by an older one, and a burst of
changes costs one save.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from voicewire.resume import Hub, OnControl, ReplayLog, SessionState
from voicewire.server.outbox import Outbox
from voicewire.server.turns import Spawn
from voicewire.tasks import stack

log = logging.getLogger(__name__)
HANDOFF_TIMEOUT_S = 10.0


class SessionLog:
    def __init__(
        self,
        hub: Hub,
        out: Outbox,
        state: Callable[[], SessionState],
        on_control: OnControl,
        spawn: Spawn,
    ) -> None:
        self.hub, self.out, self.state = hub, out, state
        self.on_control = on_control
        self.spawn = spawn
        self.log: ReplayLog | None = None
        self._changed = asyncio.Event()
        self._saver: asyncio.Task[None] | None = None
        self._handing_off = False

    async def own(self, state: SessionState) -> bool:
        """Own the session's log; False if another connection owns it now.

        When the shared store is down the session runs all the same: it just cannot be resumed.
        """
        try:
            self.log = await self.hub.open(state, self.on_control)
        except Exception:
            log.exception("session %s: no replay log", state.session_id)
            self.log = self.out.log = None
            return True
        self.out.log = self.log
        if self.log is not None and self._saver is None:
            self._saver = self.spawn(self._save_latest())
        return self.log is not None

    @property
    def lost(self) -> bool:
        """Another owner has the session now (a write was refused): nothing more is logged."""
        return self.log is not None and self.log.lost

    def changed(self) -> None:
        """The session's state changed: the saver saves it (the latest, when it gets to it)."""
        self._changed.set()

    async def hand_off(self) -> None:
        """Leave the session to whoever resumes it: its state at the end of its log."""
        self._handing_off = True
        if self._saver is not None:
            # The saver also stops at the flag: a cancel landing as a save's send completes is
            # swallowed on Python 3.11 (redis-py's `asyncio.wait_for`), and awaiting a saver
            # that went on waiting for the next change held this connection's end forever.
            self._saver.cancel()
            self._changed.set()
            _, pending = await asyncio.wait([self._saver], timeout=HANDOFF_TIMEOUT_S)
            if pending:
                sid = self.state().session_id
                log.error("session %s: its state saver did not stop:\n%s", sid, stack(self._saver))
        if self.log is None:
            return
        try:
            async with asyncio.timeout(HANDOFF_TIMEOUT_S):
                await self.log.handoff(self.state())
        except Exception:
            log.exception("session %s: handoff failed", self.state().session_id)

    async def _save_latest(self) -> None:
        while not self._handing_off:
            await self._changed.wait()
            self._changed.clear()
            if self.log is None or self._handing_off:
                continue
            try:
                await self.log.save(self.state())
            except Exception as exc:
                log.warning("session %s: state not saved: %r", self.state().session_id, exc)
