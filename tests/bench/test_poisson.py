"""The Poisson suite's conversations start at a stationary point of their cycle (pure, seeded)."""

from __future__ import annotations

import random
import statistics

import pytest

from voicewire.bench.poisson import first_delay

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
