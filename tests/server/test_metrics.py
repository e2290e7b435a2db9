"""`/metrics` counts sessions, turns and latencies in the Prometheus text format."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import serve
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS


def samples(text: str) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()) if k != "le")
            if "le" not in s.labels:
                out[s.name + (f"{{{labels}}}" if labels else "")] = s.value
    return out


async def test_a_spoken_turn_shows_up_in_the_metrics(tmp_path: Path) -> None:
    llm = ScriptedLLM("Sure, here you go. It works.", tokens_per_second=100, first_token_ms=5)
    app = create_app(
        Settings(llm="scripted", tts="fake", data_dir=tmp_path), llm=llm, tts=FakeToneTTS()
    )
    with serve(app) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            async with Client(base.replace("http", "ws", 1) + "/ws") as c:
                await c.ask("hello")
                await c.send_json({"type": "bogus"})
                await c.receive()
                during = samples((await http.get("/metrics")).text)
            for _ in range(100):  # the server notices the close a moment later
                after = samples((await http.get("/metrics")).text)
                if after["voicewire_sessions"] == 0:
                    break
                await asyncio.sleep(0.02)
    assert during["voicewire_sessions"] == 1
    assert after["voicewire_sessions"] == 0
    assert after["voicewire_turns_total{status=complete}"] == 1
    assert after["voicewire_ttft_seconds_count"] == 1
    assert after["voicewire_ttfa_seconds_count"] == 1
    assert 0 < after["voicewire_ttfa_seconds_sum"] < 10
    assert after["voicewire_errors_total{code=unknown_type}"] == 1
