"""The deadline scheduler runs the most urgent work first and loses no result or error."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import AsyncGenerator

import pytest

from tests.waiting import HANG_S
from voicewire import scheduling
from voicewire.responder import TurnContext
from voicewire.scheduling import DeadlineScheduler
from voicewire.tts.base import SpeechChunk
from voicewire.turn import Turn


def test_queued_work_runs_in_deadline_order_not_arrival_order() -> None:
    pool = DeadlineScheduler(workers=1)
    gate = threading.Event()
    order: list[str] = []
    blocker = pool.submit(gate.wait)  # holds the only worker while the others queue up
    now = time.monotonic()
    futures = []
    for name, due in [("later", now + 5), ("soonest", now - 1), ("soon", now + 1)]:
        token = scheduling.deadline.set(due)
        futures.append(pool.submit(order.append, name))
        scheduling.deadline.reset(token)
    gate.set()
    for f in [blocker, *futures]:
        f.result(timeout=HANG_S)
    assert order == ["soonest", "soon", "later"]
    pool.shutdown()


def test_work_without_a_deadline_is_due_now_and_keeps_arrival_order() -> None:
    pool = DeadlineScheduler(workers=1)
    gate = threading.Event()
    order: list[int] = []
    blocker = pool.submit(gate.wait)
    futures = [pool.submit(order.append, i) for i in range(5)]
    gate.set()
    for f in [blocker, *futures]:
        f.result(timeout=HANG_S)
    assert order == [0, 1, 2, 3, 4]
    pool.shutdown()


def test_results_and_exceptions_reach_the_caller() -> None:
    pool = DeadlineScheduler(workers=2)
    assert pool.submit(sum, [1, 2, 3]).result(timeout=HANG_S) == 6
    with pytest.raises(ZeroDivisionError):
        pool.submit(lambda: 1 / 0).result(timeout=HANG_S)
    pool.shutdown()


def test_no_more_threads_than_workers_are_started() -> None:
    pool = DeadlineScheduler(workers=2)
    futures = [pool.submit(time.sleep, 0.01) for _ in range(10)]
    for f in futures:
        f.result(timeout=HANG_S)
    assert len({t.name for t in threading.enumerate() if t.name.startswith("synth-")}) <= 2
    pool.shutdown()


def test_shutdown_cancels_what_has_not_started() -> None:
    pool = DeadlineScheduler(workers=1)
    gate, started = threading.Event(), threading.Event()

    def hold() -> bool:
        started.set()
        return gate.wait()

    running = pool.submit(hold)
    assert started.wait(HANG_S)
    waiting = pool.submit(time.sleep, 0)
    pool.shutdown()
    gate.set()
    assert waiting.cancelled()
    assert running.result(timeout=HANG_S) is True
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(time.sleep, 0)


class DeadlineRecordingTTS:
    """Speaks two pieces per segment and notes the deadline its caller had for each."""

    name = "recording"
    sample_rate = 1000
    voices = ("recording",)

    def __init__(self) -> None:
        self.deadlines: list[float | None] = []

    async def synthesize(
        self, text: str, *, voice: str | None = None, rate: float = 1.0
    ) -> AsyncGenerator[SpeechChunk, None]:
        for _ in range(2):
            self.deadlines.append(scheduling.deadline.get())
            yield SpeechChunk(b"\0\0" * 100)  # 0.1 s


async def test_a_turns_first_piece_of_speech_is_queued_ahead_of_every_deadline() -> None:
    # Sessions that are already playing have deadlines; a turn's first audio goes before them
    # all. Its later pieces are due when the audio produced so far will have played out.
    async def reply(_: TurnContext) -> AsyncGenerator[str, None]:
        yield "Hello there. And a second sentence follows it."

    async def emit(_: object) -> None:
        pass

    tts = DeadlineRecordingTTS()
    turn = Turn(1, reply, TurnContext("hi", [], None), tts, emit)  # type: ignore[arg-type]
    await turn.run()
    first, *later = tts.deadlines
    assert first == -math.inf
    assert len(later) == 3
    assert all(d is not None and math.isfinite(d) for d in later)
    assert later == sorted(later)  # 0.1, 0.2, 0.3 s of audio after the first piece arrived
