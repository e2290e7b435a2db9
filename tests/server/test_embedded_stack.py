"""The real embedded default, end to end: SmolLM2 via llama.cpp + the Piper voice, over a socket."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from tests.conftest import serve
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.server.app import create_app


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("data")
    app = create_app(Settings(llm_max_tokens=60, llm_temperature=0.0, data_dir=data))
    with serve(app) as base:
        yield base.replace("http", "ws") + "/ws"


async def test_the_embedded_llm_and_piper_voice_answer_with_text_and_speech(url: str) -> None:
    async with Client(url) as c:
        assert c.ready is not None
        assert c.ready.audio.sample_rate == 22050
        assert c.ready.voices == ("en_US-joe-medium",)
        result = await c.ask("What is the capital of France? Answer in one sentence.")
    assert result.end is not None and result.end.status == "complete", result.errors
    assert result.text == result.end.text
    assert len(result.text.split()) >= 3
    segments = result.segments
    assert segments, "no speech"
    total_ms = 0
    for start, end, pcm in segments:
        assert end is not None
        assert abs(len(pcm) / 2 * 1000 / 22050 - end.duration_ms) <= 1
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        assert np.sqrt(np.mean(samples**2)) > 300, f"segment {start.segment_id} is silent"
        assert [w.start_ms for w in end.words] == sorted(w.start_ms for w in end.words)
        total_ms += end.duration_ms
    # A spoken sentence of a few words lasts between a fraction of a second and a minute.
    assert 300 < total_ms < 60_000
