"""Bounds on speech input: how many utterances a process decodes at once, and how fast a
connection may send microphone audio.

`StreamSlots` caps concurrent STT streams: a pocketsphinx stream holds a decoder of ~92 MB, so
the cap is what bounds the memory speech input can take. A slot is taken without waiting (a
client over the cap is told so at once, rather than left talking to nobody).

`AudioBudget` is a token bucket counted in seconds of audio: a microphone sends in real time,
so a client may run `burst_s` ahead of the clock and then no faster than `rate` times real time.
Audio over budget is dropped (the caller decides what to tell the client). What was dropped
also fills a second bucket, the overdraft, which drains at the same `rate`: past `flood_s` the
client is not a microphone that hiccupped (a network stall that delivers its backlog at once)
but a flood, and the caller closes it.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

# A frame counts as at least this much audio: otherwise a flood of empty frames would be free,
# although each costs a receive and a header parse. Microphones send 10–100 ms per frame.
MIN_FRAME_S = 0.01
_EPSILON = 1e-9  # sums of 20 ms frames are not exact in binary: 100 of them make 2 s


class Slot:
    """One concurrent STT stream, held until `release` (safe to call more than once)."""

    def __init__(self, slots: StreamSlots) -> None:
        self._slots: StreamSlots | None = slots

    def release(self) -> None:
        slots, self._slots = self._slots, None
        if slots is not None:
            slots.in_use -= 1


class StreamSlots:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0

    def acquire(self) -> Slot | None:
        """A slot, or None when `limit` are taken; never waits."""
        if self.in_use >= self.limit:
            return None
        self.in_use += 1
        return Slot(self)


class Verdict(enum.Enum):
    TAKE = "take"  # within budget: decode it
    DROP = "drop"  # over budget: drop it
    FLOOD = "flood"  # over budget by more than `flood_s`: close the connection


class AudioBudget:
    def __init__(
        self,
        *,
        burst_s: float,
        rate: float,
        flood_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst_s = burst_s
        self.rate = rate
        self.flood_s = flood_s
        self._clock = clock
        self._level = burst_s  # seconds of audio that may arrive now
        self._overdraft = 0.0  # seconds dropped, draining at `rate`
        self._last = clock()

    def charge(self, seconds: float) -> Verdict:
        """Account for a frame of `seconds` of audio arriving now."""
        now = self._clock()
        refill, self._last = (now - self._last) * self.rate, now
        self._level = min(self.burst_s, self._level + refill)
        self._overdraft = max(0.0, self._overdraft - refill)
        seconds = max(seconds, MIN_FRAME_S)
        # A frame longer than the burst still gets through when the bucket is full; the level
        # then goes below zero, and later audio waits until real time has caught up.
        if seconds <= self._level + _EPSILON or self._level >= self.burst_s:
            self._level -= seconds
            return Verdict.TAKE
        # Dropped audio does not take the level below zero: after a stall, a client that is back
        # to real time is heard again at once, not after repaying what it was not allowed.
        self._overdraft += seconds
        return Verdict.FLOOD if self._overdraft > self.flood_s + _EPSILON else Verdict.DROP
