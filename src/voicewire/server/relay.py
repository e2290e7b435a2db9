"""Serving a resume (PROTOCOL.md §8): replay a session's log to the new socket, live, up to its
handoff — wherever its reply is being generated — while holding what the client sends.

The connection that resumes asks the session's owner to let go (`takeover`), then follows the
log from the client's `last_seq`: every frame after it, exactly once, in order, as the owner
stamped it. A `turn.cancel` or `user.message` from the client meanwhile is forwarded at once as
a `cancel` to the owner; everything the client sends is held, to be handled in order once the
connection owns the session.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from redis.exceptions import RedisError
from starlette.types import Message

from voicewire.errors import VoicewireError
from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.messages import MAX_PLAYED_MS
from voicewire.protocol.session import Session
from voicewire.resume import CancelTurn, Frame, Handoff, Hub, Takeover, Unavailable
from voicewire.server.outbox import Outbox, Raw

log = logging.getLogger(__name__)
MAX_HELD_FRAMES = 1000  # client frames held during a replay (50 s of microphone frames)


class TooManyHeld(VoicewireError, code=ErrorCode.RATE_LIMITED, close_code=CloseCode.RATE_LIMITED):
    """The client sent more than `MAX_HELD_FRAMES` while its replay was running."""


@dataclass
class OpenTurn:
    """A turn whose `turn.start` was replayed and whose `turn.end` was not (yet)."""

    turn_id: int
    text: list[str] = field(default_factory=list)


@dataclass
class Relay:
    hub: Hub
    session_id: str
    subject: str
    out: Outbox
    held: list[Message] = field(default_factory=list)
    open_turn: OpenTurn | None = None
    ended: set[int] = field(default_factory=set)  # turns whose turn.end was replayed
    stopped: bool = False  # the client went again: relay nothing more (even if not cancelled)

    async def run(self, last_seq: int, session: Session) -> Handoff | None:
        """Replay, then return the owner's handoff; None if the session cannot be resumed."""
        try:
            state = await self.hub.find(self.session_id)
            if state is None or state.subject != self.subject:
                return None
            frames = await self.hub.follow(self.session_id, last_seq)
            # It can be resumed: its owner, if any, lets go of its socket.
            await self.hub.control(self.session_id, Takeover())
            session.session_id = self.session_id
            self.out.put_now(Raw(session.resumed_frame(last_seq)))
            async for item in frames:
                if self.stopped:
                    return None
                if isinstance(item, Frame):
                    self._track(item)
                    await self.out.put(Raw(item.data))
                elif item.state.seq < last_seq:
                    return None  # the client claims frames that were never sent
                else:
                    return item
        except Unavailable:
            return None
        except (RedisError, OSError) as exc:
            log.warning("session %s: resume failed: %s", self.session_id, exc)
            return None
        return None

    async def hold(self, message: Message) -> None:
        """Keep a client frame for later; a cancel (or a new message) stops the reply now."""
        if len(self.held) >= MAX_HELD_FRAMES:
            raise TooManyHeld
        self.held.append(message)
        text = message.get("text")
        if text is None:
            return
        try:  # any size: the held frame is checked against the limits when it is handled
            obj = json.loads(text)
        except ValueError:
            return
        if not isinstance(obj, dict) or obj.get("type") not in ("turn.cancel", "user.message"):
            return
        if obj["type"] == "user.message":
            await self.hub.control(self.session_id, CancelTurn(turn_id=None, played_ms=None))
            return
        turn_id, played_ms = obj.get("turn_id"), obj.get("played_ms")
        if isinstance(turn_id, int):
            bounded = isinstance(played_ms, int) and 0 <= played_ms <= MAX_PLAYED_MS
            played = played_ms if bounded else None
            await self.hub.control(self.session_id, CancelTurn(turn_id, played))

    async def client_done(self) -> None:
        """The client closed the socket (1000) during the replay: the reply stops, as on /ws."""
        await self.hub.control(self.session_id, CancelTurn(turn_id=None, played_ms=None))

    def _track(self, frame: Frame) -> None:
        if not isinstance(frame.data, str):
            return
        event = json.loads(frame.data)
        kind = event.get("type")
        if kind == "turn.start":
            self.open_turn = OpenTurn(event["turn_id"])
        elif kind == "text.delta" and self.open_turn is not None:
            self.open_turn.text.append(event["text"])
        elif kind == "turn.end":
            self.open_turn = None
            self.ended.add(event["turn_id"])

    def unfinished(self, handoff: Handoff) -> OpenTurn | None:
        """The turn a dead owner left running (None when the owner handed off)."""
        if not handoff.orphaned:
            return None
        running = handoff.state.running_turn
        if self.open_turn is None and running is not None and running not in self.ended:
            return OpenTurn(running)  # it started before the client's last_seq
        return self.open_turn
