"""Clients report stutter: the playback clock finds the gaps, the server counts the reports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path

import httpx

from tests.conftest import serve
from tests.server.test_metrics import samples
from tests.waiting import HANG_S, until
from voicewire.client import Client
from voicewire.client.playback import PlaybackClock, Underrun
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.messages import Error
from voicewire.server.app import create_app
from voicewire.tts.base import SpeechChunk


def test_audio_that_arrives_after_the_last_has_played_is_an_underrun() -> None:
    clock = PlaybackClock()
    assert clock.feed(10.0, 1.0) is None  # playback starts with the first audio: ends at 11
    assert clock.feed(10.5, 1.0) is None  # in time: ends at 12
    assert clock.feed(11.0, 0.0) is None  # nothing to play
    gap = clock.feed(12.25, 0.5)
    assert gap == Underrun(dry_at=12.0, silence_s=0.25, at_s=2.0)
    assert clock.feed(12.5, 1.0) is None  # playback went on from 12.25: ends at 12.75


def test_an_underrun_is_reported_with_bounded_values() -> None:
    message = Underrun(dry_at=0.0, silence_s=500.0, at_s=1.2345).message(3)
    assert message == {
        "type": "playback.underrun",
        "turn_id": 3,
        "silence_ms": 60000,
        "at_ms": 1234,
    }
    assert Underrun(0.0, 0.0001, 0.0).message(1)["silence_ms"] == 1


class DrippingTTS:
    """For tests only: 400 ms of audio, then a pause twice as long, then 400 ms more."""

    name = "dripping"
    sample_rate = 8000
    voices = ("drip",)

    async def synthesize(
        self, text: str, *, voice: str | None = None, rate: float = 1.0
    ) -> AsyncGenerator[SpeechChunk, None]:
        piece = b"\x01\x00" * (self.sample_rate * 2 // 5)
        yield SpeechChunk(piece)
        await asyncio.sleep(0.8)  # makes the gap; nothing is asserted about its length
        yield SpeechChunk(piece)


async def test_the_python_client_reports_the_gaps_it_hears_and_metrics_count_them(
    tmp_path: Path,
) -> None:
    llm = ScriptedLLM("Hello there.", tokens_per_second=0, first_token_ms=0)
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path, persist=False)
    app = create_app(settings, llm=llm, tts=DrippingTTS())
    with serve(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=HANG_S) as http:

            async def counted() -> float:
                text = (await http.get("/metrics")).text
                return samples(text).get("voicewire_client_underruns_total", 0.0)

            url = base.replace("http", "ws", 1) + "/ws"
            async with Client(url, report_underruns=True) as c:
                await c.ask("hi")
                assert c.underruns >= 1
                await until(counted, "the server to count the report")
                # Out of bounds: answered with invalid_message and not counted.
                before = await counted()
                await c.send_json(
                    {"type": "playback.underrun", "turn_id": 1, "silence_ms": 0, "at_ms": 0}
                )
                error = await c.receive()
                assert isinstance(error, Error) and error.code == "invalid_message"
                assert await counted() == before
            seconds = samples((await http.get("/metrics")).text)
    assert seconds["voicewire_client_underrun_seconds_total"] > 0
