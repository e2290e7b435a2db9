"""The browser client (web/voicewire.js) and the demo page, driven in Debian's Chromium.

A real uvicorn server (scripted LLM, fake tone TTS) streams real audio; the page plays it
through Web Audio, and the checks read the client's own audio-clock bookkeeping plus an
AnalyserNode on its output.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.conftest import serve
from tests.web.chromium import launch
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS

REPLY = (
    "Sure, I can help with that. The flat has two bedrooms and a balcony. It costs $1,850 a month."
)
XSS = "<img src=x onerror=alert(1)>"
XSS_REPLY = f"Here is the tag you asked about: {XSS} It is shown as text."

WAIT_MS = 30_000
VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "frames.json").read_text())

# Installed in every page once the client is connected: records the client's events, samples
# the output level with an AnalyserNode and the highlighted word, all on the audio clock.
RECORDER = """
async () => {
  const c = window.voicewire;
  const ctx = await c.resumeAudio();
  const rec = (window.rec = {
    turnEnds: [], segEnds: [], words: [], earlyWords: 0, playbackEnds: [], errors: [],
    states: [], levels: [], marks: [], clickTime: null,
  });
  const bubbleOf = (id) => document.querySelector(`#log .msg.bot[data-turn="${id}"] .bubble`);
  c.on("turnEnd", (d) => {
    const bubble = bubbleOf(d.turn_id);
    rec.turnEnds.push({ ...d, bubbleText: bubble ? bubble.textContent : null });
  });
  c.on("segment", (d) => { if (d.type === "segment.end") rec.segEnds.push(d); });
  c.on("word", (d) => {
    rec.words.push(d);
    if (c.currentTime < d.time) rec.earlyWords += 1;
  });
  c.on("playbackEnd", (d) => rec.playbackEnds.push(d));
  c.on("error", (d) => rec.errors.push(d));
  c.on("state", (d) => rec.states.push(d.state));
  // Output level, measured after the client's output node.
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  const mute = ctx.createGain();
  mute.gain.value = 0;
  c.output.connect(analyser);
  analyser.connect(mute).connect(ctx.destination);
  const buf = new Float32Array(analyser.fftSize);
  rec.window = analyser.fftSize / ctx.sampleRate;
  setInterval(() => {
    analyser.getFloatTimeDomainData(buf);
    let peak = 0;
    for (const x of buf) peak = Math.max(peak, Math.abs(x));
    rec.levels.push([ctx.currentTime, peak]);
  }, 20);
  // The highlighted word: its text and its offset in the bubble, whenever it changes.
  setInterval(() => {
    const mark = document.querySelector("#log mark");
    if (!mark) return;
    let offset = 0;
    for (let n = mark.previousSibling; n; n = n.previousSibling) offset += n.textContent.length;
    const last = rec.marks[rec.marks.length - 1];
    if (!last || last[0] !== offset || last[1] !== mark.textContent) {
      rec.marks.push([offset, mark.textContent]);
    }
  }, 25);
  // The audio-clock time of a click on Stop, taken before the page's own handler runs.
  document.addEventListener("click", (e) => {
    if (e.target.id === "stop") rec.clickTime = ctx.currentTime;
  }, true);
  return ctx.state;
}
"""


def _server(reply: str, tokens_per_second: float) -> Iterator[str]:
    llm = ScriptedLLM(reply, tokens_per_second=tokens_per_second, first_token_ms=20)
    tts = FakeToneTTS(ms_per_char=40)
    data = Path(tempfile.mkdtemp(prefix="voicewire-web-"))
    app = create_app(Settings(llm="scripted", tts="fake", data_dir=data), llm=llm, tts=tts)
    with serve(app) as base:
        yield base


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    yield from _server(REPLY, 25)


@pytest.fixture(scope="module")
def slow_url() -> Iterator[str]:
    # Slow text, so the turn is still running on the server while its first words play.
    yield from _server(REPLY, 4)


@pytest.fixture(scope="module")
def xss_url() -> Iterator[str]:
    yield from _server(XSS_REPLY, 25)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as browser:
        yield browser


OpenPage = Callable[..., Page]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[OpenPage]:
    """Open the demo page of a server, wait for its session, install the recorder."""
    contexts = []
    errors: list[str] = []

    def open_(base: str, *, width: int = 1000, height: int = 760) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(base + "/")
        page.wait_for_function(
            "() => window.voicewire && window.voicewire.state === 'open'"
            " && window.voicewire.session !== null",
            timeout=WAIT_MS,
        )
        assert page.evaluate(RECORDER) == "running"
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


def ask(page: Page, text: str = "Tell me about the flat") -> None:
    page.fill("#message", text)
    page.press("#message", "Enter")


def wait_turn_end(page: Page, count: int = 1) -> dict[str, Any]:
    page.wait_for_function(f"() => rec.turnEnds.length >= {count}", timeout=WAIT_MS)
    end: dict[str, Any] = page.evaluate(f"() => rec.turnEnds[{count - 1}]")
    return end


def wait_playback_end(page: Page, turn_id: int) -> None:
    page.wait_for_function(
        f"() => rec.playbackEnds.some((p) => p.turn_id === {turn_id})", timeout=WAIT_MS
    )


def test_a_typed_message_streams_the_reply_into_a_bot_bubble(
    base_url: str, open_page: OpenPage
) -> None:
    page = open_page(base_url)
    ask(page)
    assert page.locator("#message").input_value() == ""
    page.wait_for_function(
        "() => (document.querySelector('#log .msg.bot .bubble') || {}).textContent", timeout=WAIT_MS
    )
    end = wait_turn_end(page)
    assert end["status"] == "complete"
    assert end["text"] == REPLY
    assert end["bubbleText"] == end["text"]
    assert page.locator("#log .msg.user .bubble").text_content() == "Tell me about the flat"
    assert page.locator("#log .msg.bot").get_attribute("data-status") == "complete"
    # No seq gap, no text mismatch, no frame the client could not decode.
    assert page.evaluate("() => rec.errors") == []


def test_the_reply_audio_plays_in_full_gaplessly_and_in_order(
    base_url: str, open_page: OpenPage
) -> None:
    page = open_page(base_url)
    ask(page)
    end = wait_turn_end(page)
    wait_playback_end(page, end["turn_id"])
    result = page.evaluate(
        """() => ({
            stats: { ...voicewire.stats },
            rate: voicewire.audioFormat.sample_rate,
            segEnds: rec.segEnds,
            records: voicewire.timeline,
            levels: rec.levels,
        })"""
    )
    seg_ends = result["segEnds"]
    assert len(seg_ends) >= 2
    assert [s["segment_id"] for s in seg_ends] == list(range(len(seg_ends)))
    stats, rate = result["stats"], result["rate"]
    assert stats["receivedSamples"] == sum(s["samples"] for s in seg_ends)
    assert stats["scheduledSegments"] == len(seg_ends)
    expected_ms = sum(s["duration_ms"] for s in seg_ends)
    played_ms = stats["playedSamples"] * 1000 / rate
    assert abs(played_ms - expected_ms) <= 0.05 * expected_ms, (played_ms, expected_ms)

    records = result["records"]
    assert {r["turn_id"] for r in records} == {end["turn_id"]}
    order = [(r["segment_id"], r["sample_offset"]) for r in records]
    assert order == sorted(order), "buffers were scheduled out of order"
    for a, b in itertools.pairwise(records):
        assert b["start"] >= a["end"] - 1e-9, f"buffers overlap: {a} then {b}"
        assert a["end"] - a["start"] == pytest.approx(a["samples"] / rate)
    # Something was really audible at the output while the reply played.
    first, last = records[0]["start"], records[-1]["end"]
    peaks = [peak for t, peak in result["levels"] if first < t <= last]
    assert peaks and max(peaks) > 0.1


def test_the_highlighted_word_advances_through_the_reply_as_it_is_heard(
    base_url: str, open_page: OpenPage, output_dir: Path
) -> None:
    page = open_page(base_url)
    ask(page)
    page.wait_for_function("() => rec.marks.length >= 2", timeout=WAIT_MS)
    page.screenshot(path=str(output_dir / "web-chat-mid-reply.png"))
    end = wait_turn_end(page)
    wait_playback_end(page, end["turn_id"])
    marks, early, words = page.evaluate("() => [rec.marks, rec.earlyWords, rec.words.length]")
    text = end["text"]
    assert len(marks) >= 3, marks
    offsets = [offset for offset, _ in marks]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets), marks
    for offset, word in marks:
        assert word and text[offset : offset + len(word)] == word
    assert len({word for _, word in marks}) >= 3
    assert words >= len(marks)
    assert early == 0, "a word was highlighted before its audio started"
    # The highlight is cleared once the reply has been heard.
    assert page.locator("#log mark").count() == 0


def test_stop_silences_playback_within_100_ms_and_the_turn_ends_interrupted(
    slow_url: str, open_page: OpenPage
) -> None:
    page = open_page(slow_url)
    stop = page.get_by_role("button", name="Stop")
    assert stop.is_disabled()
    ask(page)
    # Wait until speech is being heard while the server is still writing the reply.
    page.wait_for_function("() => rec.words.length >= 1", timeout=WAIT_MS)
    assert page.evaluate("() => rec.turnEnds.length") == 0, "the turn ended before Stop"
    stop.click()
    after = page.evaluate(
        "() => ({t: voicewire.currentTime, played: voicewire.stats.playedSamples,"
        " clickTime: rec.clickTime})"
    )
    click_time = after["clickTime"]
    assert click_time is not None
    end = wait_turn_end(page)
    assert end["status"] == "interrupted"
    turn_id = end["turn_id"]
    # Let half a second of audio clock pass, then look back at what was played.
    page.wait_for_function(f"() => voicewire.currentTime > {after['t'] + 0.5}", timeout=WAIT_MS)
    result = page.evaluate(
        f"""() => ({{
            records: voicewire.timeline.filter((r) => r.turn_id === {turn_id}),
            played: voicewire.stats.playedSamples,
            playedMs: voicewire.playedMs({turn_id}),
            levels: rec.levels,
            window: rec.window,
            busy: voicewire.busy,
        }})"""
    )
    records = result["records"]
    assert records, "no audio had been scheduled before Stop"
    for r in records:
        until = r["end"] if r["stopped_at"] is None else min(r["end"], r["stopped_at"])
        assert until <= click_time + 0.1, f"audio scheduled past stop + 100 ms: {r}"
    assert result["played"] == after["played"], "the played counter kept growing after Stop"
    assert abs(end["played_ms"] - result["playedMs"]) <= 1
    assert 0 < end["played_ms"] < sum(r["samples"] / r["rate"] for r in records) * 1000 + 1
    # The output really is silent from 100 ms after the click on.
    silent = [p for t, p in result["levels"] if t - result["window"] > click_time + 0.1]
    assert len(silent) >= 5
    assert max(silent) < 1e-4
    assert not result["busy"]
    assert stop.is_disabled()
    assert page.locator("#log .msg.bot").get_attribute("data-status") == "interrupted"


def test_markup_in_a_reply_is_shown_as_text_and_never_run(
    xss_url: str, open_page: OpenPage
) -> None:
    page = open_page(xss_url)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    ask(page, "Show me <b>an image</b>")
    end = wait_turn_end(page)
    assert end["text"] == XSS_REPLY
    wait_playback_end(page, end["turn_id"])  # every word, the tag's too, has been highlighted
    bubble = page.locator("#log .msg.bot .bubble")
    assert XSS in (bubble.text_content() or "")
    assert page.locator("#log .msg.user .bubble").text_content() == "Show me <b>an image</b>"
    assert page.locator("#log img").count() == 0
    assert page.locator("#log b").count() == 0
    assert dialogs == []


def test_decode_frame_accepts_every_valid_vector_and_rejects_every_invalid_one(
    base_url: str, open_page: OpenPage
) -> None:
    page = open_page(base_url)
    results = page.evaluate(
        """async (vectors) => {
            const { decodeFrame, encodeFrame } = await import("/voicewire.js");
            const fromHex = (h) =>
                new Uint8Array((h.match(/../g) || []).map((x) => parseInt(x, 16))).buffer;
            const toHex = (b) => [...new Uint8Array(b)]
                .map((x) => x.toString(16).padStart(2, "0")).join("");
            const valid = vectors.valid.map((v) => {
                const f = decodeFrame(fromHex(v.hex));
                return {
                    name: v.name,
                    header: {
                        version: f.version, kind: f.kind, flags: f.flags, codec: f.codec,
                        seq: f.seq, turn_id: f.turnId, segment_id: f.segmentId,
                        sample_offset: f.sampleOffset,
                    },
                    payload_hex: toHex(f.payload),
                    reencoded: toHex(encodeFrame(f)),
                };
            });
            const invalid = vectors.invalid.map((v) => {
                try {
                    decodeFrame(fromHex(v.hex));
                    return { name: v.name, error: null };
                } catch (e) {
                    return { name: v.name, error: e instanceof Error ? e.message : "not an Error" };
                }
            });
            return { valid, invalid };
        }""",
        VECTORS,
    )
    assert len(results["valid"]) == len(VECTORS["valid"])
    for vector, got in zip(VECTORS["valid"], results["valid"], strict=True):
        assert got["header"] == vector["header"], vector["name"]
        assert got["payload_hex"] == vector["payload_hex"], vector["name"]
        assert got["reencoded"] == vector["hex"], vector["name"]
    assert len(results["invalid"]) == len(VECTORS["invalid"])
    for vector, got in zip(VECTORS["invalid"], results["invalid"], strict=True):
        assert got["error"] is not None, f"{vector['name']} was accepted"
        assert vector["error"] in got["error"].lower(), (vector["name"], got["error"])


def test_the_page_fits_a_375_px_phone_screen_mid_reply(
    base_url: str, open_page: OpenPage, output_dir: Path
) -> None:
    page = open_page(base_url, width=375, height=740)
    ask(page)
    page.wait_for_function("() => document.querySelector('#log mark')", timeout=WAIT_MS)
    page.screenshot(path=str(output_dir / "web-chat-mid-reply-375px.png"))
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    for selector in ("#message", "#send", "#stop", "#voice + .track"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375, selector
    end = wait_turn_end(page)
    wait_playback_end(page, end["turn_id"])


def test_with_voice_switched_off_by_keyboard_the_reply_is_text_only(
    base_url: str, open_page: OpenPage
) -> None:
    page = open_page(base_url)
    switch = page.get_by_role("switch", name="Voice")
    switch.focus()
    page.keyboard.press("Space")
    assert not switch.is_checked()
    ask(page)
    end = wait_turn_end(page)
    assert end["status"] == "complete" and end["bubbleText"] == REPLY
    wait_playback_end(page, end["turn_id"])
    stats = page.evaluate("() => voicewire.stats")
    assert stats["receivedSamples"] == 0 and stats["scheduledSegments"] == 0
    assert page.evaluate("() => voicewire.timeline.length") == 0


def test_the_client_reconnects_after_the_server_closes_the_socket(
    base_url: str, open_page: OpenPage
) -> None:
    page = open_page(base_url)
    first = page.evaluate("() => voicewire.session.session_id")
    # A binary frame from the client is refused: the server closes with 1003.
    page.evaluate("() => voicewire.socket.send(new Uint8Array([1, 2, 3]))")
    page.wait_for_function(
        f"() => voicewire.state === 'open' && voicewire.session.session_id !== '{first}'",
        timeout=WAIT_MS,
    )
    states, codes = page.evaluate("() => [rec.states, rec.errors.map((e) => e.code)]")
    assert "reconnecting" in states
    assert states[-1] == "open"
    assert "unexpected_binary" in codes
    assert page.locator("#error").is_visible()
    assert page.locator("#conn").get_attribute("data-state") == "open"
    # The new session works.
    ask(page)
    end = wait_turn_end(page)
    assert end["status"] == "complete"


def test_a_data_event_becomes_a_key_value_card_under_the_reply(
    base_url: str, open_page: OpenPage
) -> None:
    page = open_page(base_url)
    ask(page)
    end = wait_turn_end(page)
    # The scripted LLM sends no app data, so the event is dispatched as the client would.
    page.evaluate(
        """(turnId) => voicewire.dispatchEvent(new CustomEvent("data", { detail: {
            type: "data", turn_id: turnId, kind: "propertyData",
            payload: { rent: "$1,850", bedrooms: 2, note: "<img src=x onerror=alert(1)>" },
        }}))""",
        end["turn_id"],
    )
    card = page.locator("#log .msg.bot .card")
    assert card.locator(".card-title").text_content() == "propertyData"
    assert card.locator("dt").all_text_contents() == ["rent", "bedrooms", "note"]
    assert card.locator("dd").all_text_contents() == ["$1,850", "2", XSS]
    assert page.locator("#log img").count() == 0
