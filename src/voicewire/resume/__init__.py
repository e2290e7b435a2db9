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
    history: list[tuple[Literal["user", "assistant"], str]] = []
    running_turn: int | None = None  # in a snapshot: the turn that was running


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


Control = dict[str, Any]  # {"type": "takeover"} | {"type": "cancel", "turn_id", "played_ms"}
OnControl = Callable[[Control], Coroutine[Any, Any, None]]


class ReplayLog(ABC):
    """The owner's handle on its session's log."""

    @abstractmethod
    def append(self, seq: int, data: str | bytes) -> None:
        """Log a frame; never blocks the writer (remote logs are written in the background)."""

    @abstractmethod
    def trim(self, through_seq: int) -> None:
        """Forget frames up to `through_seq`: the client has them for sure (see Outbox)."""

    @abstractmethod
    async def save(self, state: SessionState) -> None:
        """Keep a snapshot of the state, for when this owner dies without handing off."""

    @abstractmethod
    async def handoff(self, state: SessionState) -> None:
        """Write every pending frame, then the `Handoff`, and give the session up."""


class Hub(ABC):
    node: str

    async def start(self) -> None:  # noqa: B027 — optional hook
        """Connect, and start serving controls for the sessions this process owns."""

    async def close(self) -> None:  # noqa: B027 — optional hook
        """Stop; pending log writes are flushed."""

    @abstractmethod
    async def open(self, state: SessionState, on_control: OnControl) -> ReplayLog | None:
        """Own the session (new, or taken over after its `Handoff`); None if another owns it."""

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
        """Deliver a control to the session's owner, wherever it runs (dropped if none)."""
