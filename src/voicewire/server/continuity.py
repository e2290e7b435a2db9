"""Session continuity (PROTOCOL.md §8): a session's state as its log keeps it, and going on
from a handoff — restoring the session, and ending a reply its dead owner left running.

The replay itself is `relay.py`; owning the log is `sessionlog.py`; the connection that does
all of it is `ws.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from voicewire.llm.base import ChatMessage, plain
from voicewire.protocol.errors import ErrorCode
from voicewire.protocol.messages import AudioFormat, Error, SessionReady, TurnEnd
from voicewire.protocol.session import Session, SessionSnapshot, SpeechSettings
from voicewire.resume import Handoff, SessionState
from voicewire.server.auth import ResumeGrant
from voicewire.server.conversation import Conversation
from voicewire.server.relay import Relay
from voicewire.server.services import Services
from voicewire.server.turns import TurnRunner


def session_state(
    session: Session, *, subject: str, conversation: Conversation, runner: TurnRunner
) -> SessionState:
    """What the session's log keeps of it: enough for any process to go on with it."""
    snap = session.snapshot()
    s = snap.settings
    return SessionState(
        session_id=snap.session_id,
        subject=subject,
        conversation_id=conversation.id,
        seq=snap.seq,
        next_turn=snap.next_turn,
        voice=s.voice,
        voice_name=s.voice_name,
        rate=s.rate,
        codec=s.audio.codec,
        sample_rate=s.audio.sample_rate,
        requested_rate=snap.requested_rate,
        pinned_rate=snap.pinned_rate,
        # What was said; a reply's tool calls are not carried over to another process.
        history=[
            (m.role, m.content)
            for m in plain(conversation.history)
            if m.role == "user" or m.role == "assistant"
        ],
        running_turn=runner.running_turn,
        running_text=runner.running_text,
    )


def ready_message(
    session: Session, services: Services, grant: ResumeGrant, guest_token: str | None
) -> SessionReady:
    """`session.ready` of a new session, with the token to resume it (§8)."""
    ttl = services.settings.resume_token_ttl_s
    return session.ready_message().model_copy(
        update={
            "conversation_id": grant.conversation_id or None,
            "guest_token": guest_token,
            "resume_token": services.signer.sign_resume(grant, ttl),
        }
    )


def restore(session: Session, state: SessionState, *, running_turn: int | None) -> None:
    settings = SpeechSettings(
        voice=state.voice,
        voice_name=state.voice_name,
        rate=state.rate,
        audio=AudioFormat(codec=state.codec, sample_rate=state.sample_rate),
    )
    running = ((running_turn, state.codec),) if running_turn is not None else ()
    session.restore(
        SessionSnapshot(
            session_id=state.session_id,
            seq=state.seq,
            next_turn=state.next_turn,
            settings=settings,
            requested_rate=state.requested_rate,
            running=running,
            pinned_rate=state.pinned_rate,
        )
    )


@dataclass(frozen=True, slots=True)
class Orphan:
    """A reply whose process died: it ends here, `failed`, keeping the text that was sent."""

    turn_id: int
    text: str

    def events(self) -> tuple[Error, TurnEnd]:
        return (
            Error(
                code=ErrorCode.INTERNAL,
                message="the server generating this reply stopped",
                turn_id=self.turn_id,
            ),
            TurnEnd(turn_id=self.turn_id, status="failed", text=self.text),
        )


def take_over(
    session: Session, handoff: Handoff, relay: Relay, services: Services
) -> tuple[Conversation, Orphan | None]:
    """Go on from `handoff`: the session restored, its conversation, and a reply left orphaned."""
    state = handoff.state
    open_turn = relay.unfinished(handoff)
    orphan = None
    if open_turn is not None:
        # The replay saw the text sent after the client's last_seq (all of it when it saw the
        # turn start); the snapshot has the text up to the owner's last save: the longer wins.
        replayed = "".join(open_turn.text)
        text = state.running_text if state.running_turn == open_turn.turn_id else ""
        orphan = Orphan(open_turn.turn_id, max(replayed, text, key=len))
    restore(session, state, running_turn=orphan.turn_id if orphan else None)
    history = [ChatMessage(role, text) for role, text in state.history]
    return Conversation.open(services, state.conversation_id, history), orphan
