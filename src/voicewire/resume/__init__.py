"""Resume (PROTOCOL.md §8): every session's frames in a replay log, and who owns the session.

A session's owner appends each frame it stamps to the session's log, exactly as it sends it.
When its client goes, the owner finishes the running reply (for `resume_grace_s`), then hands
the session off: the log gets a `Handoff` carrying the session's state. A connection that
resumes follows the log from the client's `last_seq` — replayed frames, then live ones — up to
the handoff, and goes on from that state as the session's new owner.

Two hubs keep the logs: `MemoryHub` (one process) and `RedisHub` (Redis Streams; any process can
serve a resume for a session that runs on another). Both are tested against the same contract.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from voicewire.errors import VoicewireError
from voicewire.protocol.errors import ErrorCode
from voicewire.protocol.messages import Codec


class SessionState(BaseModel):
    """What a session's next owner needs to go on exactly where the last one stopped."""

    session_id: str
    subject: str
    conversation_id: str  # "" when nothing is stored
    seq: int  # the last seq stamped
    next_turn: int
    voice: bool = True
    voice_name: str | None = None
    rate: float = 1.0
    codec: Codec = "pcm16"
    sample_rate: int = 22050
    requested_rate: int = 22050
    pinned_rate: bool = False  # the client chose `requested_rate` (else each voice's own)
    history: list[tuple[Literal["user", "assistant"], str]] = []
    running_turn: int | None = None  # in a snapshot: the turn that was running
    running_text: str = ""  # in a snapshot: the text the running turn has sent so far


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame as the owner sent it (or would have, had its client been there)."""

    seq: int
    data: str | bytes


@dataclass(frozen=True, slots=True)
class Handoff:
    """The end of an owner's part of the log: the state to go on from.

    `orphaned`: the owner vanished without handing off (its process died); the state is its
    last snapshot, and a turn it was running never ended.
    """

    state: SessionState
    orphaned: bool = False


class Unavailable(VoicewireError, code=ErrorCode.RESUME_UNAVAILABLE):
    """The session cannot be resumed from there: unknown, expired, or frames were trimmed."""


@dataclass(frozen=True, slots=True)
class Takeover:
    """Another connection resumes the session: let go of its socket."""


@dataclass(frozen=True, slots=True)
class CancelTurn:
    """Stop the running turn (the client of a resume sent `turn.cancel` or `user.message`).

    `turn_id` None: whatever turn is running (e.g. a new `user.message`); `played_ms`: how much
    of its audio the client played, when it said.
    """

    turn_id: int | None
    played_ms: int | None


Control = Takeover | CancelTurn
OnControl = Callable[[Control], Coroutine[Any, Any, None]]


class BadControl(VoicewireError, ValueError):
    """A control message from another process that is not one this version understands."""


def encode_control(session_id: str, control: Control) -> str:
    """The JSON of a control for session `session_id`, as published between processes."""
    body: dict[str, Any] = {"sid": session_id}
    match control:
        case Takeover():
            body["type"] = "takeover"
        case CancelTurn(turn_id=turn_id, played_ms=played_ms):
            body.update(type="cancel", turn_id=turn_id, played_ms=played_ms)
    return json.dumps(body)


def decode_control(raw: str | bytes) -> tuple[str, Control]:
    """The session id and control of a published message; raises `BadControl`."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadControl(f"not JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(sid := body.get("sid"), str):
        raise BadControl("no session id")
    kind = body.get("type")
    if kind == "takeover":
        return sid, Takeover()
    if kind == "cancel":
        turn_id, played_ms = body.get("turn_id"), body.get("played_ms")
        if not (_int_or_none(turn_id) and _int_or_none(played_ms)):
            raise BadControl("cancel: turn_id and played_ms must be integers or null")
        return sid, CancelTurn(turn_id, played_ms)
    raise BadControl(f"unknown control type {kind!r}")


def _int_or_none(value: object) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


class ReplayLog(ABC):
    """The owner's handle on its session's log.

    Every write is fenced: it lands only while this handle's owner still owns the session (the
    generation `Hub.open` gave it). Once another owner has it, the log writes nothing more and
    its `on_control` gets `Takeover()` — once — so that its connection lets go.
    """

    @property
    @abstractmethod
    def lost(self) -> bool:
        """Another owner has the session since (a write was refused): nothing more is logged,
        so a reply still being generated for the log is generated for nobody."""

    @abstractmethod
    def append(self, seq: int, data: str | bytes) -> None:
        """Log a frame; never blocks the writer (remote logs are written in the background)."""

    @abstractmethod
    def trim(self, through_seq: int) -> None:
        """Forget frames up to `through_seq`: the client has them for sure (see Outbox)."""

    @abstractmethod
    async def save(self, state: SessionState) -> None:
        """Keep a snapshot of the state, for when this owner dies without handing off.

        Latest wins, however saves race: a snapshot never replaces one with a higher `seq`, nor
        one with the same `seq` saved later.
        """

    @abstractmethod
    async def handoff(self, state: SessionState) -> None:
        """Write every pending frame, then the `Handoff`, and give the session up.

        Writes nothing if another owner has the session by then (see the class docstring).
        """


class Hub(ABC):
    node: str

    async def start(self) -> None:  # noqa: B027 — optional hook
        """Connect, and start serving controls for the sessions this process owns."""

    async def close(self) -> None:  # noqa: B027 — optional hook
        """Stop; pending log writes are flushed."""

    @abstractmethod
    async def open(self, state: SessionState, on_control: OnControl) -> ReplayLog | None:
        """Own the session (new, or taken over after its `Handoff`); None if another owns it.

        Atomic: of two opens at once, one owns the session. An owner whose process died is
        taken over; it then holds an older generation, and its writes are refused.
        """

    @abstractmethod
    async def find(self, session_id: str) -> SessionState | None:
        """The session's last known state; None when it is unknown or expired."""

    @abstractmethod
    async def follow(self, session_id: str, after_seq: int) -> AsyncIterator[Frame | Handoff]:
        """Every frame after `after_seq`, in order, live, ending with a `Handoff`.

        Raises `Unavailable` (here, or later from the iterator) if frames after `after_seq`
        are no longer all kept.
        """

    @abstractmethod
    async def alive(self, node: str) -> bool:
        """Is the server process `node` still running?"""

    @abstractmethod
    async def control(self, session_id: str, control: Control) -> None:
        """Deliver a control to the session's owner, wherever it runs (dropped if none).

        `Takeover()` reaches an owner's `on_control` at most once per `open`.
        """
