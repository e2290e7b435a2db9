"""`/metrics` counts sessions, turns and latencies in the Prometheus text format."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import serve
from tests.tts.test_voices import Loads, write_voice
from tests.waiting import HANG_S, until
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.server.app import create_app
from voicewire.server.metrics import Metrics
from voicewire.tts.base import Scheduled
from voicewire.tts.fake import FakeToneTTS
from voicewire.tts.voices import PiperVoices


def samples(text: str) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()) if k != "le")
            if "le" not in s.labels:
                out[s.name + (f"{{{labels}}}" if labels else "")] = s.value
    return out


async def metrics_if(
    read: Callable[[], Awaitable[dict[str, float]]], done: Callable[[dict[str, float]], bool]
) -> dict[str, float] | None:
    values = await read()
    return values if done(values) else None


async def test_a_spoken_turn_shows_up_in_the_metrics(tmp_path: Path) -> None:
    llm = ScriptedLLM("Sure, here you go. It works.", tokens_per_second=100, first_token_ms=5)
    app = create_app(
        Settings(llm="scripted", tts="fake", data_dir=tmp_path), llm=llm, tts=FakeToneTTS()
    )
    with serve(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=HANG_S) as http:

            async def metrics() -> dict[str, float]:
                return samples((await http.get("/metrics")).text)

            async with Client(base.replace("http", "ws", 1) + "/ws") as c:
                asked = time.monotonic()
                await c.ask("hello")
                answered = time.monotonic()
                await c.send_json({"type": "bogus"})
                await c.receive()
                during = await metrics()
            # The server notices the close a moment later.
            after = await until(
                lambda: metrics_if(metrics, lambda m: m["voicewire_sessions"] == 0),
                "the session to be counted as ended",
            )
    assert during["voicewire_sessions"] == 1
    assert after["voicewire_sessions"] == 0
    assert after["voicewire_turns_total{status=complete}"] == 1
    assert after["voicewire_ttft_seconds_count"] == 1
    assert after["voicewire_ttfa_seconds_count"] == 1
    # Not a latency bound: the server's measure of one turn fits in what the client saw of it.
    assert 0 < after["voicewire_ttfa_seconds_sum"] <= answered - asked
    assert after["voicewire_errors_total{code=unknown_type}"] == 1


QUEUE = ("voicewire_tts_queue_depth", "voicewire_tts_queue_wait_seconds_total")


def test_the_piper_voices_show_their_synthesis_queue_in_the_metrics(tmp_path: Path) -> None:
    write_voice(tmp_path, "anna")
    tts = PiperVoices(tmp_path, default="anna", load=Loads())  # no model is loaded
    try:
        assert isinstance(tts, Scheduled)
        metrics = Metrics(tts)

        def queue() -> tuple[float, float]:
            values = samples(generate_latest(metrics.registry).decode())
            depth, wait = (values[name] for name in QUEUE)
            return depth, wait

        assert queue() == (0, 0)
        tts.scheduler.waited_s = 1.5  # read when scraped, from the voices' shared workers
        assert queue() == (0, 1.5)
    finally:
        tts.close()


def test_an_engine_without_a_worker_pool_has_no_synthesis_queue_in_the_metrics() -> None:
    tts = FakeToneTTS()
    assert not isinstance(tts, Scheduled)
    values = samples(generate_latest(Metrics(tts).registry).decode())
    assert "voicewire_sessions" in values
    assert not set(QUEUE) & set(values)
