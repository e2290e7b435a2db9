"""A small thread pool for STT decodes that says when it is busy.

Whole-utterance engines (Whisper) decode in jobs of 50–500 ms. The pool does not bound its
queue by length; it bounds it by admission. Optional work (an interim transcript) is only
submitted when a worker is free (`busy` is False), so it is skipped, never queued, under load.
Required work (a final transcript, a speculative decode at a pause) is at most one or two jobs
per stream, and streams are capped per process (`max_stt_streams`), so the queue is too; a
final that still waits longer than its engine's `final_wait_s` fails with `STTError`
(`stt_failed` to the client) instead of stalling the session.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from voicewire.stt.base import STTError

T = TypeVar("T")


class DecodePool:
    def __init__(self, workers: int, *, name: str) -> None:
        self.workers = workers
        self.name = name
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._lock = threading.Lock()
        self.pending = 0  # jobs submitted and not yet done (running or queued)
        self.skipped = 0  # optional jobs not submitted because the pool was busy

    @property
    def busy(self) -> bool:
        """True when every worker has a job: new work would wait."""
        return self.pending >= self.workers

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run `fn(*args)` in the pool; `STTError` if the pool is closed."""
        with self._lock:
            self.pending += 1

        def job() -> T:
            try:
                return fn(*args)
            finally:
                self._done()  # before the result is seen: `pending` is never stale to a waiter

        try:
            future = self._pool.submit(job)
        except RuntimeError as exc:
            self._done()
            raise STTError(f"the {self.name} engine is closed") from exc
        # A job cancelled before it ran never ran `job`.
        future.add_done_callback(lambda f: self._done() if f.cancelled() else None)
        return future

    def try_submit(self, fn: Callable[..., T], *args: Any) -> Future[T] | None:
        """`submit` if a worker is free, else None (counted in `skipped`)."""
        if self.busy:
            self.skipped += 1
            return None
        return self.submit(fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _done(self) -> None:
        with self._lock:
            self.pending -= 1
