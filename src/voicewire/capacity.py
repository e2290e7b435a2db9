"""How much speech this machine can synthesize: seconds of audio per second, all workers busy.

The capacity is a throughput, so it is measured when every worker is busy: a lone job on an
idle box runs faster than each of two jobs side by side (the cores share caches and memory
bandwidth, and a shared box has other tenants), and an estimate taken at light load would
admit more than the box sustains. A start-up probe gives the first estimate (`probe`: one job
per worker at once); then every job that ran while the queue was saturated updates it. Both
go into one pair of sums (audio seconds, busy seconds) that decay with a half-life counted in
busy seconds, so the estimate follows the box when its load changes and does not drift while
it idles.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

# Enough that a handful of jobs (each ~0.05–0.4 s of a worker) moves the estimate, few enough
# that a minute of a changed box has replaced it.
HALF_LIFE_S = 20.0


class CapacityMeter:
    """Seconds of speech per second that `workers` workers synthesize flat out (thread-safe)."""

    def __init__(self, workers: int, *, half_life_s: float = HALF_LIFE_S) -> None:
        self.workers = workers
        self.half_life_s = half_life_s
        self._audio_s = 0.0
        self._busy_s = 0.0
        self._lock = threading.Lock()

    def record(self, audio_s: float, busy_s: float) -> None:
        """One job, run while every worker was busy, made `audio_s` of speech in `busy_s`."""
        if busy_s <= 0 or audio_s < 0:
            return
        keep = 0.5 ** (busy_s / self.half_life_s)
        with self._lock:
            self._audio_s = self._audio_s * keep + audio_s
            self._busy_s = self._busy_s * keep + busy_s

    @property
    def capacity(self) -> float | None:
        """Seconds of speech per second (None: nothing measured yet)."""
        with self._lock:
            if self._busy_s <= 0:
                return None
            return self.workers * self._audio_s / self._busy_s

    def probe(
        self,
        submit: Callable[[], Future[float]],
        *,
        rounds: int = 2,
        clock: Callable[[], float] = time.perf_counter,
    ) -> float | None:
        """Run one job per worker at once (each returns the seconds of speech it made), `rounds`
        times, and count the fastest round's throughput as one measurement; the capacity after
        it. A round is a fraction of a second: a neighbour's burst on a shared box can halve
        one (measured here: 14 s/s in one start-up, 19–21 in the next ones), and an estimate
        that low would answer turns as text for the next minute. Noise only ever slows a
        round, so the fastest is the closest to what the box can do."""
        best: tuple[float, float] | None = None
        for _ in range(max(1, rounds)):
            started = clock()
            futures: Sequence[Future[float]] = [submit() for _ in range(self.workers)]
            audio_s = sum(f.result() for f in futures)
            wall_s = clock() - started
            if wall_s > 0 and (best is None or audio_s / wall_s > best[0] / best[1]):
                best = (audio_s, wall_s)
        if best is not None:
            # `workers` jobs side by side for `wall_s`: as many busy seconds per worker.
            self.record(best[0], best[1] * self.workers)
        return self.capacity
