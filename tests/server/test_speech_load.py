"""Spoken turns are admitted within the synthesis capacity; beyond it a turn answers as text.

No timing here: the capacity is given (the `speech_capacity` setting, or a meter fed numbers)
and turns are held open by a responder that waits on an event.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import serve
from tests.server.test_metrics import samples
from tests.server.test_turns import FakeSink, options, runner_of
from tests.waiting import HANG_S, until
from voicewire.capacity import CapacityMeter
from voicewire.client import Client, Event
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.messages import (
    Notice,
    SegmentStart,
    TextDelta,
    TurnEnd,
    TurnStart,
    UserMessage,
)
from voicewire.responder import DataItem, TurnContext
from voicewire.server.app import create_app
from voicewire.server.speech_load import OVERLOADED, SpeechLoad
from voicewire.tts.base import MeasuredCapacity
from voicewire.tts.fake import FakeToneTTS


def test_spoken_turns_are_admitted_up_to_the_limit_times_the_capacity() -> None:
    load = SpeechLoad(lambda: 10.0, limit=0.8)
    slots = [load.admit() for _ in range(8)]
    assert all(slots) and load.demand == 8
    assert load.admit() is None and load.degraded == 1
    slot = slots[0]
    assert slot is not None
    slot.release()
    slot.release()  # a second release frees nothing more
    assert load.demand == 7 and load.admit() is not None and load.admit() is None


def test_a_box_slower_than_real_time_still_speaks_one_turn() -> None:
    load = SpeechLoad(lambda: 0.5, limit=0.8)
    assert load.admit() is not None and load.admit() is None


def test_an_unknown_capacity_admits_every_spoken_turn() -> None:
    load = SpeechLoad(lambda: None)
    assert all(load.admit() for _ in range(100)) and load.degraded == 0


class MeasuredFake(FakeToneTTS):
    """For tests only: the fake engine, reporting the capacity the test sets."""

    def __init__(self, capacity: float | None) -> None:
        super().__init__()
        self.measured = capacity

    @property
    def capacity(self) -> float | None:
        return self.measured


def test_the_capacity_setting_overrides_the_engines_measure_and_zero_means_unbounded(
    tmp_path: Path,
) -> None:
    tts = MeasuredFake(20.0)
    measured = SpeechLoad.of(Settings(data_dir=tmp_path, speech_capacity=None), tts)
    assert measured.capacity == 20.0 and measured.admits == 18  # 0.9 × 20
    assert measured.admits_starting == 11  # 0.55 × 20
    fixed = SpeechLoad.of(Settings(data_dir=tmp_path, speech_capacity=5), tts)
    assert fixed.capacity == 5.0 and fixed.admits == 4 and fixed.admits_starting == 2  # 2.75
    unbounded = SpeechLoad.of(Settings(data_dir=tmp_path, speech_capacity=0), tts)
    assert unbounded.capacity is None and unbounded.admit() is not None


def test_an_engine_that_does_not_measure_its_capacity_speaks_every_turn(tmp_path: Path) -> None:
    tts = FakeToneTTS()
    assert not isinstance(tts, MeasuredCapacity)
    settings = Settings(data_dir=tmp_path, speech_capacity=None, speech_load_limit=0.1)
    load = SpeechLoad.of(settings, tts)
    assert load.capacity is None
    assert all(load.admit() for _ in range(100)) and load.degraded == 0


def test_an_engine_that_reports_its_capacity_decides_how_many_turns_are_spoken(
    tmp_path: Path,
) -> None:
    tts = MeasuredFake(None)  # not measured yet: every turn is spoken
    assert isinstance(tts, MeasuredCapacity)
    settings = Settings(data_dir=tmp_path, speech_capacity=None, speech_load_limit=0.5)
    load = SpeechLoad.of(settings, tts)
    assert load.capacity is None and load.admits == math.inf
    tts.measured = 4.0  # measured since: read at each turn, 0.5 × 4 spoken at once
    assert load.capacity == 4.0 and load.admits == 2
    assert load.admit() and load.admit() and load.admit() is None and load.degraded == 1


def test_the_capacity_is_the_workers_throughput_and_follows_a_changed_box() -> None:
    meter = CapacityMeter(2, half_life_s=1.0)
    assert meter.capacity is None
    meter.record(8.0, 1.0)  # 8 s of speech per busy second, per worker
    assert meter.capacity == 16.0
    for _ in range(20):  # the box got slower: 4x per worker, for 20 busy seconds
        meter.record(4.0, 1.0)
    capacity = meter.capacity
    assert capacity is not None and 8.0 <= capacity < 8.01


def test_the_start_up_probe_runs_one_job_per_worker_and_counts_their_speech() -> None:
    meter = CapacityMeter(3)
    started: list[int] = []
    lock = threading.Lock()

    def submit() -> Future[float]:
        with lock:
            started.append(1)
        future: Future[float] = Future()
        future.set_result(2.0)
        return future

    capacity = meter.probe(submit, rounds=1)
    assert len(started) == 3 and capacity is not None and capacity > 0


async def test_a_turn_over_the_capacity_answers_as_text_with_a_notice(tmp_path: Path) -> None:
    hold = asyncio.Event()

    async def held(ctx: TurnContext) -> AsyncIterator[str | DataItem]:
        yield f"You said {ctx.text}. "
        await hold.wait()
        yield "Done."

    first, second = FakeSink(), FakeSink()
    speaking = runner_of(tmp_path, held, first)
    newcomer = runner_of(tmp_path, held, second)
    load = SpeechLoad(lambda: 1.0, limit=1.0)  # one spoken turn at a time, shared by both
    speaking.services.speech = newcomer.services.speech = load
    await speaking.start(UserMessage(id="a", text="one"), 1, options(speaking))
    await newcomer.start(UserMessage(id="b", text="two"), 1, options(newcomer))
    assert load.demand == 1 and load.degraded == 1
    await until(lambda: any(isinstance(i, TextDelta) for i in second.items), "its text")
    notice = second.items[1]
    assert isinstance(notice, Notice) and notice.code == OVERLOADED and notice.turn_id == 1
    hold.set()
    await until(lambda: speaking.running is None and newcomer.running is None, "both end")
    assert any(isinstance(i, SegmentStart) for i in first.items)  # the first one spoke
    assert not any(isinstance(i, SegmentStart) for i in second.items)  # the newcomer did not
    assert not any(isinstance(i, Notice) for i in first.items)
    end = second.items[-1]
    assert isinstance(end, TurnEnd) and end.status == "complete" and end.text.endswith("Done.")
    assert load.demand == 0
    # Its next turn asks again, and now there is room.
    await newcomer.start(UserMessage(id="c", text="three"), 2, options(newcomer))
    assert load.demand == 1
    await until(lambda: newcomer.running is None, "the turn ends")
    assert any(isinstance(i, SegmentStart) and i.turn_id == 2 for i in second.items)


async def test_a_cancelled_spoken_turn_gives_its_place_back(tmp_path: Path) -> None:
    async def endless(ctx: TurnContext) -> AsyncIterator[str | DataItem]:
        yield "Hello there. "
        await asyncio.Event().wait()

    sink = FakeSink()
    runner = runner_of(tmp_path, endless, sink)
    load = runner.services.speech = SpeechLoad(lambda: 1.0, limit=1.0)
    await runner.start(UserMessage(id="a", text="one"), 1, options(runner))
    assert load.demand == 1
    await runner.cancel()
    assert load.demand == 0
    await runner.start(UserMessage(id="b", text="two"), 2, options(runner, voice=False))
    assert load.demand == 0  # a text turn takes no place
    await runner.cancel()


async def test_a_spoken_turn_its_connection_can_no_longer_run_gives_its_place_back(
    tmp_path: Path,
) -> None:
    def closing(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        coro.close()  # as a task group that is shutting down refuses a new task
        raise RuntimeError("TaskGroup is shutting down")

    sink = FakeSink()
    runner = runner_of(tmp_path, lambda ctx: iter(()), sink)
    load = runner.services.speech = SpeechLoad(lambda: 1.0, limit=1.0)
    runner.spawn = closing
    with pytest.raises(RuntimeError):
        await runner.start(UserMessage(id="a", text="one"), 1, options(runner))
    assert load.demand == 0
    # The turn that never ran is ended like any other: turn.start, then turn.end.
    assert [type(item).__name__ for item in sink.items][-2:] == ["TurnStart", "TurnEnd"]


async def test_over_the_wire_the_newcomer_gets_a_notice_and_metrics_show_the_load(
    tmp_path: Path,
) -> None:
    released = threading.Event()  # set by the test, waited for on the server's loop

    async def held(ctx: TurnContext) -> AsyncIterator[str | DataItem]:
        yield "Hello there. "
        await asyncio.to_thread(released.wait, HANG_S)
        yield "Bye."

    settings = Settings(
        llm="scripted", tts="fake", data_dir=tmp_path, speech_capacity=1, speech_load_limit=1
    )
    app = create_app(settings, llm=ScriptedLLM("unused"), tts=FakeToneTTS(), responder=held)
    with serve(app) as base:
        url = base.replace("http", "ws", 1) + "/ws"
        async with Client(url) as first, Client(url) as second:
            speaking = asyncio.Event()

            def on_first(event: Event) -> None:
                if isinstance(event, TurnStart):
                    speaking.set()

            def on_second(event: Event) -> None:
                if isinstance(event, Notice):
                    released.set()  # the first turn may end now: the newcomer was refused

            async with asyncio.timeout(HANG_S), httpx.AsyncClient(base_url=base) as http:
                first_turn = asyncio.create_task(first.ask("one", on_event=on_first))
                await speaking.wait()
                during = samples((await http.get("/metrics")).text)
                text_only = await second.ask("two", on_event=on_second)
                spoken = await first_turn
                after = samples((await http.get("/metrics")).text)
    assert during["voicewire_speech_capacity"] == 1 and during["voicewire_speech_demand"] == 1
    assert during["voicewire_speech_admits"] == 1
    notices = [e for _, e in text_only.events if isinstance(e, Notice)]
    assert [n.code for n in notices] == [OVERLOADED]
    assert text_only.text == "Hello there. Bye." and not text_only.audio
    assert spoken.audio and not any(isinstance(e, Notice) for _, e in spoken.events)
    assert after["voicewire_speech_demand"] == 0
    assert after["voicewire_speech_degraded_turns_total"] == 1


def test_turns_still_starting_have_a_bound_of_their_own() -> None:
    # A burst of new turns all needs its first audio at once; turns already ahead of their
    # listeners do not: 3 may start at once here, 10 may be in flight.
    load = SpeechLoad(lambda: 10.0, limit=1.0, start_limit=0.3, start_ahead_s=2.0)
    starting = [load.admit() for _ in range(3)]
    assert all(starting) and load.admit() is None and load.starting == 3
    for slot in starting:
        assert slot is not None
        slot.ahead = lambda: 5.0  # 5 s of audio ready beyond what the listener played
    assert load.starting == 0
    more = [load.admit() for _ in range(7)]
    assert sum(1 for s in more if s is not None) == 3  # the start bound again
    for slot in more:
        if slot is not None:
            slot.ahead = lambda: 2.5
    assert load.demand == 6 and load.starting == 0
    last = [load.admit() for _ in range(3)]
    assert all(last) and load.demand == 9
    for slot in last:
        assert slot is not None
        slot.ahead = lambda: 3.0
    assert load.admit() is not None and load.demand == 10  # 1 starting: within its bound
    assert load.admit() is None  # the bound on all of them
