"""One deadline-ordered queue for the CPU-bound synthesis work of every session.

Workers are threads, as many as there are cores: onnxruntime releases the GIL, and measured
here a single-threaded synthesis per worker gives 1.5x the throughput of two threads each
(18x vs 12x real time for two workers on 2 cores); with one intra-op thread onnxruntime has no
thread pool, so no thread spins waiting for work. What runs next is the job whose audio is
needed soonest: a turn's first audio goes before everything (its deadline is -inf); a later
piece is due when the audio already queued for that session will have played out. So a
session about to run dry overtakes one with seconds of audio buffered, and nobody waits behind
a long reply.

A job is small: Piper queues each window of a sentence (~0.5–4 s of audio) as a job of its own,
with the deadline its caller has when the window is queued, so sessions interleave within
sentences, and a turn's first window overtakes the later windows of sessions that are already
playing. Phonemization runs inside a sentence's first job; espeak's process-wide
lock is held for a few milliseconds of a job that takes tens, so it does not serialise sessions.

The deadline travels in a context variable, so an engine's `submit` picks up the deadline of
the turn that is iterating it without the engine interface knowing about turns.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextvars import ContextVar
from typing import Any, TypeVar

from voicewire.capacity import CapacityMeter

T = TypeVar("T")

# Monotonic-clock time (time.monotonic / loop.time) by which the work's result is needed.
deadline: ContextVar[float | None] = ContextVar("voicewire_deadline", default=None)
# Seconds of audio the caller's turn has produced so far: an engine may make its next piece
# about as long (so pieces double across a turn's sentences, as they do within one).
produced: ContextVar[float] = ContextVar("voicewire_produced", default=0.0)


class DeadlineScheduler:
    def __init__(self, workers: int | None = None, name: str = "synth") -> None:
        self.workers = workers or os.cpu_count() or 1
        self._name = name
        self._heap: list[tuple[float, int, Callable[[], Any], Future[Any], float]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self.waited_s = 0.0  # total queueing delay, for metrics
        self.ran = 0
        self.running = 0  # jobs a worker is running now
        # Seconds of speech per second the workers make flat out (fed by the engine's jobs).
        self.meter = CapacityMeter(self.workers)

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        """Queue `fn(*args)`, ordered by the caller's `deadline` (now, when it has none)."""
        now = time.monotonic()
        due = deadline.get()
        future: Future[T] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("cannot submit: the scheduler is shut down")
            item = (now if due is None else due, next(self._seq), lambda: fn(*args), future, now)
            heapq.heappush(self._heap, item)
            if len(self._threads) < self.workers:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            self._cond.notify()
        return future

    @property
    def depth(self) -> int:
        return len(self._heap)

    @property
    def saturated(self) -> bool:
        """Every worker is busy (or work is waiting for one): throughput is the box's limit."""
        return self.running >= self.workers or bool(self._heap)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._heap and not self._closed:
                    self._cond.wait()
                if not self._heap:
                    return
                _, _, job, future, queued = heapq.heappop(self._heap)
                if not future.set_running_or_notify_cancel():
                    continue
                self.running += 1
            self.waited_s += time.monotonic() - queued
            self.ran += 1
            try:
                future.set_result(job())
            except BaseException as exc:  # handed to the waiting coroutine, not lost
                future.set_exception(exc)
            finally:
                with self._cond:
                    self.running -= 1

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            for *_, future, _queued in self._heap:
                future.cancel()
            self._heap.clear()
            self._cond.notify_all()
