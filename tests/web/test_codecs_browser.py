"""Compressed speech in Chromium: voicewire.js plays opus and mp3 replies, and the seed's own
frontend code plays the replies of /ws/voice-chat/."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from tests.conftest import serve
from tests.web.chromium import launch
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS

REPLY = "Sure, I can help with that. The flat has two bedrooms and a balcony. It costs $1,850."
WAIT_MS = 30_000
SEED_DIR = Path(__file__).parent / "seed"

# A client asking for `codec`, plus a recorder of its events and of its output level.
CONNECT = """
async (options) => {
  const { VoicewireClient } = await import("/voicewire.js");
  const c = (window.vc = new VoicewireClient(undefined, { reconnect: false, ...options }));
  const rec = (window.rec = {
    segEnds: [], turnEnds: [], playbackEnds: [], words: [], earlyWords: 0, errors: [],
    levels: [],
  });
  c.on("segment", (d) => { if (d.type === "segment.end") rec.segEnds.push(d); });
  c.on("turnEnd", (d) => rec.turnEnds.push(d));
  c.on("playbackEnd", (d) => rec.playbackEnds.push(d));
  c.on("error", (d) => rec.errors.push(d));
  c.on("word", (d) => {
    rec.words.push(d);
    if (c.currentTime < d.time) rec.earlyWords += 1;
  });
  await c.connect();
  const ctx = await c.resumeAudio();
  const analyser = ctx.createAnalyser();
  const mute = ctx.createGain();
  mute.gain.value = 0;
  c.output.connect(analyser);
  analyser.connect(mute).connect(ctx.destination);
  const buf = new Float32Array(analyser.fftSize);
  setInterval(() => {
    analyser.getFloatTimeDomainData(buf);
    rec.levels.push([ctx.currentTime, Math.max(...buf.map(Math.abs))]);
  }, 20);
  return c.audioFormat;
}
"""

# Every media element the page plays: when it started and whether it played to its end; and
# every message the server sends.
MEDIA_LOG = """
window.mediaLog = [];
window.received = [];
const RealWebSocket = window.WebSocket;
window.WebSocket = class extends RealWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (e) => window.received.push(JSON.parse(e.data)));
  }
};
const realPlay = HTMLMediaElement.prototype.play;
HTMLMediaElement.prototype.play = function () {
  const entry = { started: performance.now(), ended: null, duration: null, error: null };
  window.mediaLog.push(entry);
  this.addEventListener("ended", (e) => {
    entry.ended = e.timeStamp; // when it ended, not when this listener's turn came
    entry.duration = this.duration;
  });
  this.addEventListener("error", () => { entry.error = "media error " + this.error.code; });
  const playing = realPlay.call(this);
  playing.catch((e) => { entry.error = String(e); });
  return playing;
};
"""


def _serve(tokens_per_second: float) -> Iterator[str]:
    llm = ScriptedLLM(REPLY, tokens_per_second=tokens_per_second, first_token_ms=20)
    tts = FakeToneTTS(ms_per_char=40)
    app = create_app(Settings(llm="scripted", tts="fake", persist=False), llm=llm, tts=tts)
    # The test pages come from the server itself, as they would in production (a page that
    # Playwright made up counts as a public site, which Chromium bars from loopback sockets).
    # First in the routes, or the demo page's static mount at "/" would shadow them.
    app.router.routes.insert(0, Mount("/seed", app=StaticFiles(directory=SEED_DIR)))
    with serve(app) as base:
        yield base


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    yield from _serve(25)


@pytest.fixture(scope="module")
def slow_url() -> Iterator[str]:
    yield from _serve(4)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


def open_client(page: Page, base: str, codec: str, rate: int | None = None) -> dict[str, Any]:
    # A blank page of the server's origin (a secure context, so WebCodecs is there).
    page.goto(base + "/seed/blank.html")
    options = {"codec": codec, "sampleRate": rate}
    audio_format: dict[str, Any] = page.evaluate(CONNECT, options)
    return audio_format


def play_reply(page: Page) -> dict[str, Any]:
    page.evaluate("() => vc.send('Tell me about the flat')")
    page.wait_for_function("() => rec.playbackEnds.length >= 1", timeout=WAIT_MS)
    result: dict[str, Any] = page.evaluate(
        """() => ({
            stats: { ...vc.stats }, records: vc.timeline, rec: rec,
            turnEnd: rec.turnEnds[0], playbackEnd: rec.playbackEnds[0],
        })"""
    )
    return result


@pytest.mark.parametrize(
    ("codec", "asked", "stream_rate"),
    [("opus", None, 48000), ("mp3", None, 22050), ("pcm16", 16000, 16000)],
)
def test_a_reply_in_another_codec_or_rate_plays_in_full_in_order_and_without_overlap(
    base_url: str, page: Page, codec: str, asked: int | None, stream_rate: int
) -> None:
    assert open_client(page, base_url, codec, asked)["codec"] == codec
    result = play_reply(page)
    rec, stats, records = result["rec"], result["stats"], result["records"]
    assert rec["errors"] == []
    assert result["turnEnd"]["status"] == "complete"
    seg_ends = rec["segEnds"]
    assert len(seg_ends) >= 3
    assert [s["segment_id"] for s in seg_ends] == list(range(len(seg_ends)))
    assert stats["receivedSamples"] == sum(s["samples"] for s in seg_ends)
    assert stats["scheduledSegments"] == len(seg_ends)
    rate = records[0]["rate"]
    assert rate == stream_rate
    expected_ms = sum(s["duration_ms"] for s in seg_ends)
    played_ms = stats["playedSamples"] * 1000 / rate
    assert abs(played_ms - expected_ms) <= 0.05 * expected_ms, (played_ms, expected_ms)
    assert abs(result["playbackEnd"]["played_ms"] - expected_ms) <= 0.05 * expected_ms
    order = [(r["segment_id"], r["sample_offset"]) for r in records]
    assert order == sorted(order), "buffers were scheduled out of order"
    for a, b in itertools.pairwise(records):
        assert b["start"] >= a["end"] - 1e-9, f"buffers overlap: {a} then {b}"
        assert a["end"] - a["start"] == pytest.approx(a["samples"] / rate)
    # The words were highlighted in order, each once its audio had started.
    assert len(rec["words"]) == len(REPLY.split())
    assert [w["char_start"] for w in rec["words"]] == sorted(w["char_start"] for w in rec["words"])
    assert rec["earlyWords"] == 0
    peaks = [p for t, p in rec["levels"] if records[0]["start"] < t <= records[-1]["end"]]
    assert peaks and max(peaks) > 0.1


def test_stop_silences_an_opus_reply_at_once_and_nothing_plays_after_it(
    slow_url: str, page: Page
) -> None:
    open_client(page, slow_url, "opus")
    page.evaluate("() => vc.send('Tell me about the flat')")
    page.wait_for_function("() => rec.words.length >= 1", timeout=WAIT_MS)
    stopped = page.evaluate("() => ({ t: vc.currentTime, stop: vc.stop() })")
    assert stopped["stop"] is not None
    page.wait_for_function("() => rec.turnEnds.length >= 1", timeout=WAIT_MS)
    assert page.evaluate("() => rec.turnEnds[0].status") == "interrupted"
    page.wait_for_function(f"() => vc.currentTime > {stopped['t'] + 0.5}", timeout=WAIT_MS)
    records = page.evaluate("() => vc.timeline")
    assert records
    for r in records:
        until = r["end"] if r["stopped_at"] is None else min(r["end"], r["stopped_at"])
        assert until <= stopped["t"] + 0.1, f"audio scheduled past stop + 100 ms: {r}"
    assert not page.evaluate("() => vc.busy")


def open_seed_page(page: Page, base: str, query: str = "") -> None:
    page.add_init_script(MEDIA_LOG)
    page.goto(base + "/seed/index.html" + query)
    page.wait_for_function("() => voiceSocket.readyState === WebSocket.OPEN", timeout=WAIT_MS)


def seed_reply(page: Page) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    """Ask; the bubbles shown, the media played (each to its end), the voice messages' texts."""
    page.evaluate("() => sendVoiceMessage('Tell me about the flat')")
    page.wait_for_function("() => received.some((m) => m.type === 'end')", timeout=WAIT_MS)
    voices: list[str] = page.evaluate(
        "() => received.filter((m) => m.type === 'voice').map((m) => m.text)"
    )
    page.wait_for_function(
        f"() => mediaLog.length === {len(voices)} && mediaLog.every((m) => m.ended || m.error)",
        timeout=WAIT_MS,
    )
    bubbles: list[str] = page.locator("#chat li.bot").all_text_contents()
    media: list[dict[str, Any]] = page.evaluate("() => mediaLog")
    return bubbles, media, voices


def test_the_seeds_own_frontend_shows_the_reply_and_plays_every_segment_to_its_end(
    base_url: str, page: Page
) -> None:
    open_seed_page(page, base_url)
    bubbles, media, voices = seed_reply(page)
    assert len(voices) >= 3
    assert bubbles == voices
    assert " ".join(bubbles) == REPLY
    assert [m["error"] for m in media] == [None] * len(voices)
    for text, m in zip(bubbles, media, strict=True):
        # FakeToneTTS at 40 ms a letter plus 40 ms a word; the MP3's LAME tag keeps it exact.
        expected_s = sum(0.04 * len(w) + 0.04 for w in text.split())
        assert m["duration"] == pytest.approx(expected_s, abs=0.03)
        assert m["ended"] - m["started"] >= 1000 * expected_s - 50
    # The seed's bug (docs/compat.md): every segment starts the moment it arrives, so one
    # that arrives while another still plays overlaps it (which pair depends on timing).
    assert any(b["started"] < a["ended"] for a, b in itertools.pairwise(media))


def test_with_the_documented_fix_the_seeds_frontend_plays_segments_one_after_another(
    base_url: str, page: Page
) -> None:
    open_seed_page(page, base_url, "?fixed")
    bubbles, media, voices = seed_reply(page)
    assert bubbles == voices and len(voices) >= 3
    assert [m["error"] for m in media] == [None] * len(voices)
    for a, b in itertools.pairwise(media):
        assert b["started"] >= a["ended"] - 1  # performance.now() is coarsened (jitter)
