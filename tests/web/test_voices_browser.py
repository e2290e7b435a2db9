"""The demo page and the browser client with two voices of different sample rates, in Chromium.

The server's engine is a test-only pair of tone voices: "high" at 22050 Hz and "low" at
16000 Hz, so a turn in "low" must be played at 16 kHz to last as long as the server says.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.conftest import serve
from tests.web.chromium import launch
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.server.app import create_app
from voicewire.tts.base import SpeechChunk, VoiceInfo
from voicewire.tts.fake import FakeToneTTS

REPLY = "Sure, the flat has two bedrooms. It has a balcony too."
WAIT_MS = 30_000


class TwoToneVoices:
    """For tests only: two FakeToneTTS voices of different sample rates."""

    name = "fake"

    def __init__(self) -> None:
        self._tones = {
            "high": FakeToneTTS(sample_rate=22050, ms_per_char=30),
            "low": FakeToneTTS(sample_rate=16000, ms_per_char=30),
        }
        self.voices = tuple(self._tones)
        self.sample_rate = 22050

    def catalog(self) -> tuple[VoiceInfo, ...]:
        return tuple(VoiceInfo(n, t.sample_rate, "en-US") for n, t in self._tones.items())

    def synthesize(
        self, text: str, *, voice: str | None = None, rate: float = 1.0
    ) -> AsyncGenerator[SpeechChunk, None]:
        return self._tones[voice or "high"].synthesize(text, rate=rate)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    llm = ScriptedLLM(REPLY, tokens_per_second=50, first_token_ms=10)
    data = Path(tempfile.mkdtemp(prefix="voicewire-voices-"))
    settings = Settings(llm="scripted", tts="fake", data_dir=data, persist=False)
    with serve(create_app(settings, llm=llm, tts=TwoToneVoices())) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context()
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(base_url + "/")
    page.wait_for_function(
        "() => window.voicewire && window.voicewire.state === 'open'"
        " && window.voicewire.session !== null",
        timeout=WAIT_MS,
    )
    page.evaluate(
        """async () => {
            await window.voicewire.resumeAudio();
            window.rec = { turnEnds: [], segEnds: [], playbackEnds: [] };
            voicewire.on("turnEnd", (d) => rec.turnEnds.push(d));
            voicewire.on("segment", (d) => { if (d.type === "segment.end") rec.segEnds.push(d); });
            voicewire.on("playbackEnd", (d) => rec.playbackEnds.push(d));
        }"""
    )
    yield page
    context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


def played(page: Page, turns: int) -> dict[str, Any]:
    """Wait for `turns` turns to end and play out; the last one's records and segment ends."""
    page.wait_for_function(f"() => rec.turnEnds.length >= {turns}", timeout=WAIT_MS)
    turn_id = page.evaluate(f"() => rec.turnEnds[{turns - 1}].turn_id")
    page.wait_for_function(
        f"() => rec.playbackEnds.some((p) => p.turn_id === {turn_id})", timeout=WAIT_MS
    )
    result: dict[str, Any] = page.evaluate(
        f"""() => ({{
            records: voicewire.timeline.filter((r) => r.turn_id === {turn_id}),
            segEnds: rec.segEnds.filter((s) => s.turn_id === {turn_id}),
        }})"""
    )
    return result


def assert_played_at(result: dict[str, Any], rate: int) -> None:
    records, seg_ends = result["records"], result["segEnds"]
    assert records and seg_ends
    assert {r["rate"] for r in records} == {rate}
    played_s = sum(r["end"] - r["start"] for r in records)
    expected_s = sum(s["duration_ms"] for s in seg_ends) / 1000
    assert played_s == pytest.approx(expected_s, rel=0.02)


def test_the_demo_lists_the_servers_voices_and_a_chosen_voice_plays_at_its_rate(
    page: Page,
) -> None:
    picker = page.locator("#voice-name")
    assert picker.is_visible()
    options = picker.locator("option").all_text_contents()
    assert options == ["high (en-US, 22.05 kHz)", "low (en-US, 16 kHz)"]
    assert picker.input_value() == "high"
    picker.select_option("low")
    page.wait_for_function("() => voicewire.session.voice_name === 'low'", timeout=WAIT_MS)
    assert page.evaluate("() => voicewire.audioFormat.sample_rate") == 16000
    page.fill("#message", "Tell me about the flat")
    page.press("#message", "Enter")
    assert_played_at(played(page, 1), 16000)


def test_a_message_in_another_voice_plays_at_that_voices_rate_and_the_next_at_the_sessions(
    page: Page,
) -> None:
    page.evaluate("() => voicewire.send('Tell me about the flat', { voice_name: 'low' })")
    assert_played_at(played(page, 1), 16000)
    page.evaluate("() => voicewire.send('And again')")
    assert_played_at(played(page, 2), 22050)
