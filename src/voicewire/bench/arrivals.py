"""The arrivals of the Poisson benchmark and the load they make (pure: no I/O, no clock)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any


def first_delay(rng: random.Random, think_s: float, reply_s: float) -> float:
    """When a conversation asks its first question: a stationary start of its cycle.

    A conversation is a renewal process: each question comes `reply_s` (the reply playing) and
    an exponential think (mean `think_s`) after the last. Its stationary start is the forward
    recurrence time, density P(cycle > t) / E[cycle]: flat up to `reply_s`, then the think's
    exponential tail (mean E[cycle²] / 2E[cycle], over half a cycle). So questions arrive at the
    steady rate from a level's first second, D / E[cycle] per conversation in D seconds; a
    first think alone would ask early, in a burst, and more than that. (Uniform over one mean
    cycle is stationary only for a fixed cycle.)
    """
    if rng.random() * (reply_s + think_s) < reply_s:
        return rng.uniform(0.0, reply_s)
    return reply_s + rng.expovariate(1 / think_s)


def playing(row: dict[str, Any]) -> tuple[float, float]:
    """When a turn's reply played, in s into the level: from its first audio to its end,
    silences included (an empty interval for a reply with no audio)."""
    if row["ttfa_ms"] is None:
        return (row["sent_s"], row["sent_s"])
    begin = row["sent_s"] + row["ttfa_ms"] / 1000
    return (begin, begin + row["audio_s"] + row["underrun_ms"] / 1000)


def mean_playing(rows: Sequence[dict[str, Any]], start_s: float, end_s: float) -> float:
    """Replies playing at once, on average from `start_s` to `end_s` into the level (a reply
    counts only while it plays in that time).

    A level starts with no reply playing, and the replies that would be playing at its start
    had it run for ever come only as their questions are asked: it takes a reply's length to
    reach the steady state, so the suite measures from `start_s` = one reply's length on."""
    if end_s <= start_s:
        return 0.0
    spans = (playing(r) for r in rows)
    overlap = sum(max(0.0, min(b, end_s) - max(a, start_s)) for a, b in spans)
    return overlap / (end_s - start_s)
