"""The synthesis capacity's start-up probe."""

from __future__ import annotations

from concurrent.futures import Future

from voicewire.capacity import CapacityMeter


def test_the_probe_keeps_its_fastest_round_as_a_neighbours_burst_only_slows_one_down() -> None:
    # Each round reads the clock at its start and its end: rounds of 2 s, 1 s and 1.6 s.
    readings = iter([0.0, 2.0, 2.0, 3.0, 3.0, 4.6])

    def submit() -> Future[float]:
        future: Future[float] = Future()
        future.set_result(5.0)  # each job: 5 s of speech
        return future

    capacity = CapacityMeter(2).probe(submit, rounds=3, clock=lambda: next(readings))
    # Two workers made 10 s of speech in the fastest round's 1 s: 10 s/s.
    assert capacity == 10.0
