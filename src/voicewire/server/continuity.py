"""Session continuity (PROTOCOL.md §8): owning a session's replay log, resuming a session
(the replay itself is `relay.py`), finishing a reply for a client that went, handing off.

A mixin of `Connection` (server/ws.py), which owns the socket, the reader and the turns; the
attributes and methods of it used here are declared below.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from starlette.types import Message

from voicewire.llm.base import ChatMessage
from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.messages import Error, TurnEnd
from voicewire.protocol.session import Session
from voicewire.resume import Control, Handoff, ReplayLog, SessionState
from voicewire.server.handshake import Admission, Resume
from voicewire.server.outbox import Close, Outbox
from voicewire.server.persist import Recorder
from voicewire.server.relay import Relay, restore, snapshot
from voicewire.turn import Turn

if TYPE_CHECKING:
    from voicewire.server.app import Services

log = logging.getLogger(__name__)


class Continuity:
    services: Services
    session: Session
    out: Outbox
    identity: str
    conversation_id: str
    history: list[ChatMessage]
    recorder: Recorder | None
    turn: Turn | None
    turn_task: asyncio.Task[None] | None
    played_ms: dict[int, int]
    reader: asyncio.Task[None] | None
    inbound: asyncio.Lock  # client frames are handled one at a time, in order
    log: ReplayLog | None
    relay: Relay | None  # while a resume replays: client frames are held
    taken_over: bool
    closed_by_client: bool  # a close frame with 1000: the user is done, no resume
    _tasks: set[asyncio.Task[None]]

    # Connection's, used here.
    async def _start(self, admission: Admission) -> None:
        raise NotImplementedError

    def _use_conversation(self, conversation_id: str) -> None:
        raise NotImplementedError

    async def _dispatch(self, message: Message, *, rate_limit: bool = True) -> bool:
        raise NotImplementedError

    async def _cancel_turn(self) -> None:
        raise NotImplementedError

    def _fresh_session(self) -> Session:
        raise NotImplementedError

    async def _hand_off(self) -> None:
        """Leave the session to whoever resumes it: its state at the end of its log."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)  # snapshots first
        if self.log is None:
            return
        try:
            async with asyncio.timeout(10):
                await self.log.handoff(self._state())
        except Exception:
            log.exception("session %s: handoff failed", self.session.session_id)

    async def _resume(
        self, admission: Admission, request: Resume, reader: asyncio.Task[None]
    ) -> bool:
        """Replay the session to this socket, then own it; False if the client went meanwhile."""
        relay = Relay(self.services.hub, request.grant.session_id, self.identity, self.out)
        self.relay = relay
        replay = asyncio.create_task(relay.run(request.last_seq, self.session))
        await asyncio.wait({replay, reader}, return_when=asyncio.FIRST_COMPLETED)
        if not replay.done():
            replay.cancel()  # the client went again: the session stays in its log
            with contextlib.suppress(asyncio.CancelledError):
                await replay
            return False
        handoff = replay.result()
        async with self.inbound:
            self.relay = None
            resumed = handoff is not None and await self._take_over(handoff, relay)
            if not resumed:
                log.info("session %s: resume unavailable", request.grant.session_id)
                self.session = self.out.session = self._fresh_session()
                await self._start(admission)
                self.out.put_now(
                    Error(
                        code=ErrorCode.RESUME_UNAVAILABLE, message="this session cannot be resumed"
                    )
                )
            self.services.metrics.resumes.labels("resumed" if resumed else "unavailable").inc()
            for message in relay.held:  # bounded by MAX_HELD_FRAMES, not by the rate limit
                if self.taken_over or not await self._dispatch(message, rate_limit=False):
                    reader.cancel()
                    break
        return True

    async def _take_over(self, handoff: Handoff, relay: Relay) -> bool:
        state = handoff.state
        orphan = relay.unfinished(handoff)
        restore(self.session, state, running_turn=orphan.turn_id if orphan else None)
        self.history = [ChatMessage(role, text) for role, text in state.history]
        self._use_conversation(state.conversation_id)
        if not await self._own(state):
            return False
        if orphan is not None:
            # The process running this reply died: the reply ends here, failed.
            await self.out.put(
                Error(
                    code=ErrorCode.INTERNAL,
                    message="the server generating this reply stopped",
                    turn_id=orphan.turn_id,
                )
            )
            text = "".join(orphan.text)
            await self.out.put(TurnEnd(turn_id=orphan.turn_id, status="failed", text=text))
            if self.recorder is not None:
                self.recorder.fail_orphan(orphan.turn_id, text)
        return True

    async def _own(self, state: SessionState) -> bool:
        try:
            self.log = await self.services.hub.open(state, self._on_control)
        except Exception:
            # The shared store is down: the session runs, it just cannot be resumed.
            log.exception("session %s: no replay log", state.session_id)
            self.log = None
            self.out.log = None
            return True
        self.out.log = self.log
        return self.log is not None

    def _state(self) -> SessionState:
        return snapshot(
            self.session,
            subject=self.identity,
            conversation_id=self.conversation_id,
            history=self.history,
            history_messages=self.services.settings.history_messages,
            running_turn=self.turn.turn_id if self.turn is not None else None,
        )

    def _save_state(self) -> None:
        if self.log is not None:
            task = asyncio.create_task(self.log.save(self._state()))
            self._tasks.add(task)
            task.add_done_callback(self._saved)

    def _saved(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning(
                "session %s: state not saved: %r", self.session.session_id, task.exception()
            )

    async def _on_control(self, control: Control) -> None:
        """Controls from a connection resuming this session (maybe on another process)."""
        if control.get("type") == "takeover":
            self.taken_over = True
            self.out.detach(Close(CloseCode.RESUMED_ELSEWHERE, ErrorCode.SESSION_RESUMED_ELSEWHERE))
            if self.reader is not None and not self.inbound.locked():
                self.reader.cancel()
        elif control.get("type") == "cancel" and self.turn is not None:
            turn_id, played_ms = control.get("turn_id"), control.get("played_ms")
            if turn_id is not None and turn_id != self.turn.turn_id:
                return
            if isinstance(played_ms, int):
                self.played_ms[self.turn.turn_id] = played_ms
            await self._cancel_turn()

    async def _finish_without_client(self) -> None:
        """The client went: a running reply goes on into the log, for `resume_grace_s`.

        Not when it closed the socket itself with 1000: then it is done, and so is the reply.
        """
        task = self.turn_task
        if task is None or task.done():
            return
        if self.closed_by_client:
            await self._cancel_turn()
            return
        self.out.detach()
        grace = self.services.settings.resume_grace_s
        done, _ = await asyncio.wait({task}, timeout=grace)
        if done:
            return
        if self.taken_over:
            # A client resumed and follows the log: the reply goes on to its end (bounded by
            # llm_timeout_s and max_reply_chars).
            await asyncio.wait({task})
            return
        log.info("session %s: no resume within %g s", self.session.session_id, grace)
        await self._cancel_turn()
