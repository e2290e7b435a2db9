"""Serving a resume on `/ws` (PROTOCOL.md §8): replay the session's log to the new socket while
holding what the client sends, then own the session — or, when it cannot be resumed, start a
fresh one on the same conversation — and handle the held frames in order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from starlette.types import Message

from voicewire.protocol.errors import ErrorCode
from voicewire.protocol.messages import Error
from voicewire.protocol.session import Session
from voicewire.resume import Handoff
from voicewire.server.continuity import take_over
from voicewire.server.handshake import Admission, Resume
from voicewire.server.inbound import Inbound
from voicewire.server.outbox import Outbox
from voicewire.server.relay import Relay
from voicewire.server.services import Services
from voicewire.server.sessionlog import SessionLog
from voicewire.server.turns import TurnRunner
from voicewire.tasks import stack

log = logging.getLogger(__name__)
REPLAY_STOP_TIMEOUT_S = 10.0  # how long a replay the client left may take to stop


class Resumable(Protocol):
    """What a resume needs of the connection it runs in (`ws.Connection`)."""

    services: Services
    session: Session
    out: Outbox
    identity: str
    runner: TurnRunner
    log: SessionLog
    inbound: Inbound
    tg: asyncio.TaskGroup
    taken_over: bool

    async def start(self, admission: Admission) -> bool: ...

    async def dispatch(self, message: Message, *, rate_limit: bool = True) -> bool: ...


async def resume(
    conn: Resumable, admission: Admission, request: Resume, reader: asyncio.Task[None]
) -> bool:
    """Replay, then go on; False if the client went (again) meanwhile."""
    relay = Relay(conn.services.hub, request.grant.session_id, conn.identity, conn.out)
    conn.inbound.relay = relay
    replay = conn.tg.create_task(relay.run(request.last_seq, conn.session))
    await asyncio.wait({replay, reader}, return_when=asyncio.FIRST_COMPLETED)
    if not replay.done():  # the client went again: the session stays in its log
        await _stop(replay, relay)
        if conn.inbound.closed_by_client:
            await relay.client_done()  # ...and it is done with it: its reply stops
        return False
    handoff = replay.result()
    async with conn.inbound.lock:
        conn.inbound.relay = None
        resumed = handoff is not None and await _take_over(conn, handoff, relay)
        going = True
        if not resumed:
            log.info("session %s: resume unavailable", request.grant.session_id)
            conn.session = conn.out.session = conn.services.new_session()
            going = await conn.start(admission)
            conn.out.put_now(
                Error(code=ErrorCode.RESUME_UNAVAILABLE, message="this session cannot be resumed")
            )
        conn.services.metrics.resumes.labels("resumed" if resumed else "unavailable").inc()
        for message in relay.held:  # bounded by MAX_HELD_FRAMES, not by the rate limit
            if not going or conn.taken_over:
                break
            going = await conn.dispatch(message, rate_limit=False)
    if not going:
        reader.cancel()
    return going


async def _stop(replay: asyncio.Task[Handoff | None], relay: Relay) -> None:
    # A cancel landing as a read from Redis completes is swallowed on Python 3.11 (redis-py's
    # `asyncio.wait_for`): the replay would go on relaying, and this connection's end (and the
    # server's shutdown) wait for it, as its task group does. So the relay also stops at its
    # flag (at its next item), and the cancel is sent again each bound until it lands, with
    # the replay's stack logged each time it did not.
    relay.stopped = True
    while True:
        replay.cancel()
        _, pending = await asyncio.wait({replay}, timeout=REPLAY_STOP_TIMEOUT_S)
        if not pending:
            return
        log.error("session %s: its replay did not stop:\n%s", relay.session_id, stack(replay))


async def _take_over(conn: Resumable, handoff: Handoff, relay: Relay) -> bool:
    conversation, orphan = take_over(conn.session, handoff, relay, conn.services)
    conn.runner.conversation = conversation
    if not await conn.log.own(handoff.state):
        return False
    if orphan is not None:
        # The process running this reply died: the reply ends here, failed, with its text.
        for event in orphan.events():
            conn.out.put_now(event)
        if conversation.recorder is not None:
            conversation.recorder.fail_orphan(orphan.turn_id, orphan.text)
    return True
