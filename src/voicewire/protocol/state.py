"""Plain state of the protocol core: what the Session returns, keeps and hands over. No I/O."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from voicewire.protocol.errors import CloseCode
from voicewire.protocol.messages import AudioFormat, ClientMessage, Codec, Error


@dataclass(frozen=True, slots=True)
class Violation:
    """The peer broke the protocol: send `error`, then close with `close_code` if it is set."""

    error: Error
    close_code: CloseCode | None = None


@dataclass(frozen=True, slots=True)
class MicrophoneAudio:
    """A binary frame of the user's microphone: pcm16 mono at `sample_rate`."""

    pcm: bytes
    sample_rate: int


Inbound = ClientMessage | MicrophoneAudio | Violation


@dataclass(frozen=True, slots=True)
class SpeechSettings:
    voice: bool
    voice_name: str | None
    rate: float
    audio: AudioFormat


@dataclass(frozen=True, slots=True)
class SessionSnapshot:
    """Everything a Session needs to go on in another connection or process (§8).

    `running`: the turns that had started and not ended, with the codec each was started with
    (a codec change applies from the next turn, so a running turn keeps its own).
    """

    session_id: str
    seq: int
    next_turn: int
    settings: SpeechSettings
    requested_rate: int
    running: tuple[tuple[int, Codec], ...] = ()
    pinned_rate: bool = False  # the client chose the sample rate: every voice is resampled to it


class RateWindow:
    """At most `per_second` events in any one-second window (a sliding log of times)."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self._recent: deque[float] = deque()

    def exceeded(self, now: float) -> bool:
        """Count one event at `now`; True when it is one too many."""
        recent = self._recent
        while recent and now - recent[0] >= 1.0:
            recent.popleft()
        recent.append(now)
        return len(recent) > self.per_second
