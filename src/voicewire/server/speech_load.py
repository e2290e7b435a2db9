"""Which turns are spoken: demand kept within the machine's synthesis capacity.

Capacity is seconds of speech the process synthesizes per second with every worker busy
(`voicewire.capacity`: probed at start-up, then measured on the synthesis queue), or the
`speech_capacity` setting. Demand is the number of spoken turns in flight, from their start to
their end: each is a listener playing one second of speech per second, so demand is in the
same unit. It counts a turn whose audio is already ahead of its listener as a full second
per second: a burst of turns all needs its first audio at once, and one more admitted turn
would make every session stutter, not just the new one.

A spoken turn is admitted while demand + 1 ≤ `speech_load_limit` × capacity. Beyond that the
server degrades in one way, chosen for its clarity to the user: the new turn answers as text
only, and its `turn.start` is followed by a `notice` with code `speech_overloaded` (PROTOCOL.md
§3). The sessions already speaking keep their share of the CPU and play without gaps; the
next turn of the degraded session asks again. When the capacity is unknown (an engine that
does not measure it, i.e. is no `tts.base.MeasuredCapacity`, such as a remote TTS) every
turn is admitted.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from voicewire.config import Settings
from voicewire.protocol.messages import Notice
from voicewire.tts.base import TTS, MeasuredCapacity

OVERLOADED = "speech_overloaded"


class Slot:
    """A spoken turn's share of the capacity, held until `release` (idempotent)."""

    def __init__(self, load: SpeechLoad) -> None:
        self._load: SpeechLoad | None = load

    def release(self) -> None:
        if self._load is not None:
            self._load.demand -= 1
            self._load = None


class SpeechLoad:
    """The process's spoken turns against its synthesis capacity (one per process)."""

    def __init__(self, capacity: Callable[[], float | None], *, limit: float = 0.6) -> None:
        self._capacity = capacity
        self.limit = limit
        self.demand = 0  # spoken turns in flight
        self.degraded = 0  # turns answered as text because speech was over the limit

    @classmethod
    def of(cls, settings: Settings, tts: TTS) -> SpeechLoad:
        """The setting's capacity when set (0: unbounded), else the engine's measure if any."""
        fixed = settings.speech_capacity
        if fixed is not None:
            value = fixed or None
            return cls(lambda: value, limit=settings.speech_load_limit)
        if isinstance(tts, MeasuredCapacity):  # (Piper's worker pool measures its own)
            engine: MeasuredCapacity = tts
            return cls(lambda: engine.capacity, limit=settings.speech_load_limit)
        return cls(lambda: None, limit=settings.speech_load_limit)

    @property
    def capacity(self) -> float | None:
        """Seconds of speech per second (None: unknown, every turn is admitted)."""
        return self._capacity()

    @property
    def admits(self) -> int | float:
        """How many spoken turns may be in flight at once."""
        capacity = self.capacity
        if capacity is None:
            return math.inf
        # One spoken turn is always allowed: a box slower than real time still answers.
        return max(1, math.floor(self.limit * capacity + 1e-9))

    def admit(self) -> Slot | None:
        """A slot for one more spoken turn, or None: it must answer as text."""
        if self.demand + 1 > self.admits:
            self.degraded += 1
            return None
        self.demand += 1
        return Slot(self)


def overloaded_notice(turn_id: int) -> Notice:
    return Notice(
        code=OVERLOADED,
        message="the server is speaking as many replies as it can; this one is text only",
        turn_id=turn_id,
    )
