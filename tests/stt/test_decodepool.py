"""DecodePool: optional work is skipped while every worker is busy, required work queues, and a
closed pool says so."""

from __future__ import annotations

import threading

import pytest

from voicewire.stt import STTError
from voicewire.stt.decodepool import DecodePool


def test_optional_work_is_skipped_while_every_worker_is_busy_and_taken_after() -> None:
    pool = DecodePool(1, name="test")
    release = threading.Event()
    try:
        running = pool.submit(release.wait)
        assert pool.busy
        assert pool.try_submit(lambda: "interim") is None
        assert pool.skipped == 1
        queued = pool.submit(lambda: "final")  # required work waits its turn
        release.set()
        assert running.result() is True and queued.result() == "final"
        assert pool.pending == 0 and not pool.busy
        optional = pool.try_submit(lambda: "interim")
        assert optional is not None and optional.result() == "interim"
    finally:
        release.set()
        pool.close()


def test_a_closed_pool_refuses_work_with_an_stt_error_and_counts_nothing() -> None:
    pool = DecodePool(2, name="test")
    pool.close()
    with pytest.raises(STTError, match="test engine is closed"):
        pool.submit(lambda: None)
    assert pool.pending == 0
