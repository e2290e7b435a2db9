"""The Poisson suite's arrivals and the load it reports (pure, seeded)."""

from __future__ import annotations

import random
import statistics
from typing import Any

import pytest

from voicewire.bench.arrivals import first_delay, mean_playing

THINK_S, REPLY_S = 4.0, 6.0
CYCLE_S = THINK_S + REPLY_S


def test_a_conversations_first_question_waits_the_forward_recurrence_time_of_its_cycle() -> None:
    rng = random.Random(7)
    draws = [first_delay(rng, THINK_S, REPLY_S) for _ in range(20_000)]
    # The cycle is the reply plus an exponential think: E[cycle²] / (2 E[cycle]) = 5.8 s, more
    # than half a cycle (a first think alone waits 4 s on average, a uniform time 5 s).
    second_moment = REPLY_S**2 + 2 * REPLY_S * THINK_S + 2 * THINK_S**2
    assert statistics.fmean(draws) == pytest.approx(second_moment / (2 * CYCLE_S), rel=0.05)
    # Flat up to the reply's end: questions come at the steady rate, 1 / cycle, from t = 0.
    early = sum(d < REPLY_S for d in draws) / len(draws)
    assert early == pytest.approx(REPLY_S / CYCLE_S, abs=0.02)
    assert min(draws) >= 0.0


def test_conversations_started_so_ask_a_level_the_steady_number_of_questions() -> None:
    # The renewal process the suite runs (reply, then think), counted over a 60 s level.
    rng = random.Random(11)
    level_s, conversations, asked = 60.0, 20_000, 0
    for _ in range(conversations):
        t = first_delay(rng, THINK_S, REPLY_S)
        while t < level_s:
            asked += 1
            t += REPLY_S + rng.expovariate(1 / THINK_S)
    # A first think alone asks 3% more (6.18 per conversation), a uniform start 1.3% more.
    assert asked / conversations == pytest.approx(level_s / CYCLE_S, rel=0.01)


def _turn(
    sent_s: float, ttfa_ms: float | None, audio_s: float, underrun_ms: float = 0.0
) -> dict[str, Any]:
    return {"sent_s": sent_s, "ttfa_ms": ttfa_ms, "audio_s": audio_s, "underrun_ms": underrun_ms}


def test_the_load_counts_each_reply_while_it_plays_within_the_level() -> None:
    rows = [
        _turn(0.0, 500.0, 10.0),  # plays 0.5-10.5 s
        _turn(2.0, 0.0, 4.0, underrun_ms=1000.0),  # 2-7 s: a second of it silence, still playing
        _turn(15.0, 0.0, 10.0),  # 15-25 s: only its first 5 s are in a 20 s level
        _turn(3.0, None, 0.0),  # text only: nothing plays
    ]
    assert mean_playing(rows, 0.0, 20.0) == pytest.approx((10.0 + 5.0 + 5.0) / 20.0)


def test_replies_playing_after_the_level_do_not_dilute_its_load() -> None:
    # Two replies playing the whole level and 15 s past it: two at once, not 2 x 20 / 35.
    rows = [_turn(0.0, 0.0, 35.0), _turn(0.0, 0.0, 35.0)]
    assert mean_playing(rows, 0.0, 20.0) == pytest.approx(2.0)


def test_the_load_is_measured_after_the_warm_up() -> None:
    # A reply playing 0.5-10.5 s and one 12-20 s: from 10 s on, 0.5 s + 8 s of 10 s.
    rows = [_turn(0.0, 500.0, 10.0), _turn(12.0, 0.0, 8.0)]
    assert mean_playing(rows, 10.0, 20.0) == pytest.approx(0.85)
    assert mean_playing(rows, 20.0, 20.0) == 0.0
