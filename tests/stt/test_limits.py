"""The bounds on speech input: stream slots, and the audio budget's token bucket (fake clock)."""

from __future__ import annotations

from tests.stt.fake import FakeClock
from voicewire.stt.limits import AudioBudget, StreamSlots, Verdict

TAKE, DROP, FLOOD = Verdict.TAKE, Verdict.DROP, Verdict.FLOOD


def budget(clock: FakeClock, flood_s: float = 30.0) -> AudioBudget:
    return AudioBudget(burst_s=2.0, rate=1.25, flood_s=flood_s, clock=clock)


def test_slots_are_given_until_the_limit_and_each_comes_back_once() -> None:
    slots = StreamSlots(2)
    first, second = slots.acquire(), slots.acquire()
    assert first is not None and second is not None
    assert slots.acquire() is None
    first.release()
    first.release()
    assert slots.in_use == 1
    assert slots.acquire() is not None and slots.acquire() is None


def test_a_budget_takes_a_burst_then_real_time_and_its_margin() -> None:
    clock = FakeClock()
    audio = budget(clock)
    assert [audio.charge(0.02) for _ in range(100)] == [TAKE] * 100
    assert audio.charge(0.02) is DROP
    clock.now += 4.0  # 5 s of refill, capped at the 2 s burst
    assert [audio.charge(0.02) for _ in range(101)] == [TAKE] * 100 + [DROP]
    clock.now += 0.8  # 1 s of audio at 1.25x
    assert [audio.charge(0.1) for _ in range(11)] == [TAKE] * 10 + [DROP]


def test_after_a_stall_a_client_back_to_real_time_is_heard_at_once() -> None:
    clock = FakeClock()
    audio = budget(clock)
    verdicts = [audio.charge(0.02) for _ in range(500)]  # a 10 s backlog arrives at once
    assert verdicts.count(TAKE) == 100 and FLOOD not in verdicts
    for _ in range(50):  # then real time: nothing is owed for what was dropped
        clock.now += 0.02
        assert audio.charge(0.02) is TAKE


def test_a_frame_longer_than_the_burst_passes_only_when_the_bucket_is_full() -> None:
    clock = FakeClock()
    audio = budget(clock)
    assert audio.charge(3.0) is TAKE
    clock.now += 1.6  # 2 s of refill: back to 1 s ahead, not full
    assert audio.charge(0.02) is TAKE
    assert audio.charge(3.0) is DROP


def test_empty_frames_count_as_ten_ms() -> None:
    audio = budget(FakeClock())
    verdicts = [audio.charge(0.0) for _ in range(201)]
    assert verdicts == [TAKE] * 200 + [DROP]


def test_dropping_more_than_flood_s_is_a_flood_and_the_overdraft_drains() -> None:
    clock = FakeClock()
    audio = budget(clock, flood_s=1.0)
    for _ in range(100 + 50):  # the burst, then 1 s dropped
        audio.charge(0.02)
    clock.now += 0.4  # 0.5 s drains from the overdraft (and refills the bucket)
    assert [audio.charge(0.02) for _ in range(25)] == [TAKE] * 25
    assert [audio.charge(0.02) for _ in range(26)] == [DROP] * 25 + [FLOOD]
