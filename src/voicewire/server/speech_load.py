"""Which turns are spoken: demand kept within the machine's synthesis capacity.

Capacity is seconds of speech the process synthesizes per second with every worker busy
(`voicewire.capacity`: probed at start-up, then measured on the synthesis queue), or the
`speech_capacity` setting. Demand is counted in spoken turns in flight, from their start to
their end: each is a listener playing one second of speech per second, the capacity's unit.

Two bounds, because a turn costs most at its start. Its first pieces are small (the listener
is waiting) and cost up to a third more per second of speech, and a burst of new turns all
needs its first audio at once: measured on 2 cores (~21 s/s), 12 turns starting together
play clean and 16 stutter, and on 2 faster ones (~30 s/s), 16–18 play clean and 18–19 had
gaps in half the runs (docs/benchmarks.md, "On a faster box"), while turns that started at
different times (random arrivals) play clean at far more in flight. So a spoken turn is
admitted while

* the turns in flight + 1 ≤ `speech_load_limit` × capacity (default 0.9), and
* the turns *starting* + 1 ≤ `speech_start_limit` × capacity (default 0.55), where a turn is
  starting until it has `speech_start_ahead_s` (2 s) of audio ready beyond what its listener
  has played (the newcomer counts as starting; so does a turn whose listener ran short again).

Beyond either, the server degrades in one way, chosen for its clarity to the user: the new
turn answers as text only, and its `turn.start` is followed by a `notice` with code
`speech_overloaded` (PROTOCOL.md §3). The sessions already speaking keep their share of the
CPU and play without gaps; the next turn of the degraded session asks again. When the
capacity is unknown (an engine that does not measure it, i.e. is no
`tts.base.MeasuredCapacity`, such as a remote TTS) every turn is admitted.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from voicewire.config import Settings
from voicewire.protocol.messages import Notice
from voicewire.tts.base import TTS, MeasuredCapacity

OVERLOADED = "speech_overloaded"


class Slot:
    """A spoken turn's share of the capacity, held until `release` (idempotent). `ahead` says
    how many seconds of the turn's audio are ready beyond what its listener has played (None:
    none yet); the turn sets it once its speaker exists."""

    def __init__(self, load: SpeechLoad) -> None:
        self._load: SpeechLoad | None = load
        self.ahead: Callable[[], float | None] = lambda: None

    def starting(self, ahead_s: float) -> bool:
        ahead = self.ahead()
        return ahead is None or ahead < ahead_s

    def release(self) -> None:
        if self._load is not None:
            self._load._slots.discard(self)
            self._load = None


class SpeechLoad:
    """The process's spoken turns against its synthesis capacity (one per process).

    `start_limit` (None: the same as `limit`) bounds the turns still starting."""

    def __init__(
        self,
        capacity: Callable[[], float | None],
        *,
        limit: float = 0.9,
        start_limit: float | None = None,
        start_ahead_s: float = 2.0,
    ) -> None:
        self._capacity = capacity
        self.limit = limit
        self.start_limit = limit if start_limit is None else start_limit
        self.start_ahead_s = start_ahead_s
        self._slots: set[Slot] = set()
        self.degraded = 0  # turns answered as text because speech was over the limit

    @classmethod
    def of(cls, settings: Settings, tts: TTS) -> SpeechLoad:
        """The setting's capacity when set (0: unbounded), else the engine's measure if any."""
        capacity: Callable[[], float | None] = lambda: None  # noqa: E731
        fixed = settings.speech_capacity
        if fixed is not None:
            value = fixed or None
            capacity = lambda: value  # noqa: E731
        elif isinstance(tts, MeasuredCapacity):  # (Piper's worker pool measures its own)
            engine: MeasuredCapacity = tts
            capacity = lambda: engine.capacity  # noqa: E731
        return cls(
            capacity,
            limit=settings.speech_load_limit,
            start_limit=settings.speech_start_limit,
            start_ahead_s=settings.speech_start_ahead_s,
        )

    @property
    def capacity(self) -> float | None:
        """Seconds of speech per second (None: unknown, every turn is admitted)."""
        return self._capacity()

    @property
    def demand(self) -> int:
        """Spoken turns in flight."""
        return len(self._slots)

    @property
    def starting(self) -> int:
        """Spoken turns in flight still starting (less than `start_ahead_s` of audio ready)."""
        return sum(1 for slot in self._slots if slot.starting(self.start_ahead_s))

    def _bound(self, limit: float) -> int | float:
        capacity = self.capacity
        if capacity is None:
            return math.inf
        # One spoken turn is always allowed: a box slower than real time still answers.
        return max(1, math.floor(limit * capacity + 1e-9))

    @property
    def admits(self) -> int | float:
        """How many spoken turns may be in flight at once."""
        return self._bound(self.limit)

    @property
    def admits_starting(self) -> int | float:
        """How many of them may be starting at once."""
        return self._bound(self.start_limit)

    def admit(self) -> Slot | None:
        """A slot for one more spoken turn, or None: it must answer as text."""
        if self.demand + 1 > self.admits or self.starting + 1 > self.admits_starting:
            self.degraded += 1
            return None
        slot = Slot(self)
        self._slots.add(slot)
        return slot


def overloaded_notice(turn_id: int) -> Notice:
    return Notice(
        code=OVERLOADED,
        message="the server is speaking as many replies as it can; this one is text only",
        turn_id=turn_id,
    )
