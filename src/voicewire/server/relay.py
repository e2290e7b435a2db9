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

from voicewire.llm.base import ChatMessage
from voicewire.protocol.messages import AudioFormat
from voicewire.protocol.session import Session, SpeechSettings
from voicewire.resume import CancelTurn, Frame, Handoff, Hub, SessionState, Takeover, Unavailable
from voicewire.server.outbox import Outbox, Raw

log = logging.getLogger(__name__)
MAX_HELD_FRAMES = 1000  # client frames held during a replay (50 s of microphone frames)


class TooManyHeld(Exception):
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
        if text is None or len(text) > 4096:
            return
        try:
            obj = json.loads(text)
        except ValueError:
            return
        if not isinstance(obj, dict) or obj.get("type") not in ("turn.cancel", "user.message"):
            return
        control = CancelTurn(turn_id=None, played_ms=None)
        if obj["type"] == "turn.cancel":
            turn_id, played_ms = obj.get("turn_id"), obj.get("played_ms")
            if not isinstance(turn_id, int):
                return
            control = CancelTurn(turn_id, played_ms if isinstance(played_ms, int) else None)
        await self.hub.control(self.session_id, control)

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


def snapshot(
    session: Session,
    *,
    subject: str,
    conversation_id: str,
    history: list[ChatMessage],
    history_messages: int,
    running_turn: int | None,
) -> SessionState:
    s = session.settings
    return SessionState(
        session_id=session.session_id,
        subject=subject,
        conversation_id=conversation_id,
        seq=session.seq,
        next_turn=session.next_turn,
        voice=s.voice,
        voice_name=s.voice_name,
        rate=s.rate,
        codec=s.audio.codec,
        sample_rate=s.audio.sample_rate,
        requested_rate=session.requested_rate,
        history=[(m.role, m.content) for m in history[-history_messages:] if m.role != "system"],
        running_turn=running_turn,
    )


def restore(session: Session, state: SessionState, *, running_turn: int | None) -> None:
    session.continue_from(
        state.session_id,
        seq=state.seq,
        next_turn=state.next_turn,
        settings=SpeechSettings(
            voice=state.voice,
            voice_name=state.voice_name,
            rate=state.rate,
            audio=AudioFormat(codec=state.codec, sample_rate=state.sample_rate),
        ),
        requested_rate=state.requested_rate,
        running_turn=running_turn,
    )
