"""The browser client resumes a session after a dropped connection (PROTOCOL.md §8).

The page is served through a `CutProxy` (tests/cutproxy.py) in front of a real uvicorn server
(scripted LLM, fake tone TTS), so its socket can be cut mid-reply the way a mobile network cuts
it: an abrupt abort, no close frame. Page and socket both go through the proxy, so the socket
stays same-origin for the server's Origin check.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.conftest import serve
from tests.cutproxy import CutProxy, proxy_in_thread
from tests.web.chromium import launch
from tests.web.test_browser import RECORDER, WAIT_MS, ask, wait_playback_end, wait_turn_end
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS

# Four sentences at 8 words a second: the reply is still being written (and spoken) for a few
# seconds after its first audio, which is when the socket is cut.
REPLY = (
    "Sure, I can help with that. The flat on Maple Street has two bedrooms and a small "
    "balcony. It costs $1,850 a month, utilities included. Would you like me to book a visit "
    "for this weekend?"
)
TOKENS_PER_SECOND = 8
RATE = 0.9  # speech rate set with session.update (slower: more audio ahead of the text)
SECRET = "browser-resume-tests-secret"

# On top of test_browser's RECORDER: the resume events, the connection label as it changes,
# what the client had when its socket dropped, and the JSON it sent (after how many resumes and
# new sessions).
RESUME_RECORDER = """
() => {
  const c = window.voicewire;
  Object.assign(rec, { resumed: [], readies: [], disconnects: [], labels: [], sent: [] });
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (typeof data === "string") {
      const m = JSON.parse(data);
      rec.sent.push({ ...m, afterResumes: rec.resumed.length, afterReadies: rec.readies.length });
    }
    return send.call(this, data);
  };
  c.on("resumed", (d) => rec.resumed.push(d));
  c.on("ready", (d) => rec.readies.push(d));
  c.on("disconnected", (d) => rec.disconnects.push({
    ...d, turnEnds: rec.turnEnds.length, scheduled: c.timeline.length, busy: c.busy,
    resuming: c.resuming,
    textLength: c.currentTurnId === null ? 0 : (rec.texts[c.currentTurnId] || "").length,
  }));
  rec.texts = {};
  c.on("text", (d) => { rec.texts[d.turn_id] = d.text; });
  const label = document.getElementById("conn-label");
  new MutationObserver(() => rec.labels.push(label.textContent))
    .observe(label, { childList: true, characterData: true, subtree: true });
}
"""


@contextmanager
def _server(data_dir: Path) -> Iterator[int]:
    """A server on `data_dir`; yields its port. Two on one data dir share tokens and history."""
    llm = ScriptedLLM(REPLY, tokens_per_second=TOKENS_PER_SECOND, first_token_ms=20)
    tts = FakeToneTTS(ms_per_char=40)
    settings = Settings(llm="scripted", tts="fake", data_dir=data_dir, secret=SECRET)
    with serve(create_app(settings, llm=llm, tts=tts)) as base:
        yield int(base.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def data_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="voicewire-web-resume-"))


@pytest.fixture(scope="module")
def server_port(data_dir: Path) -> Iterator[int]:
    with _server(data_dir) as port:
        yield port


@pytest.fixture
def proxy(server_port: int) -> Iterator[CutProxy]:
    with proxy_in_thread(server_port) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as browser:
        yield browser


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[[CutProxy], Page]]:
    """Open the demo page through the proxy, wait for its session, install the recorders, and
    set a speech rate (a setting a resumed session keeps and a new one has to be told again)."""
    contexts = []
    errors: list[str] = []

    def open_(proxy: CutProxy) -> Page:
        context = browser.new_context(viewport={"width": 1000, "height": 760})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"http://127.0.0.1:{proxy.port}/")
        page.wait_for_function(
            "() => window.voicewire && window.voicewire.state === 'open'"
            " && window.voicewire.session !== null",
            timeout=WAIT_MS,
        )
        assert page.evaluate(RECORDER) == "running"
        page.evaluate(RESUME_RECORDER)
        page.evaluate(f"() => voicewire.setVoice({{ rate: {RATE} }})")
        page.wait_for_function(f"() => voicewire.session.rate === {RATE}", timeout=WAIT_MS)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


def cut_mid_reply(
    page: Page, proxy: CutProxy, *, lead_s: float = 0.0, half_open: bool = False
) -> None:
    """Ask; cut the socket once the reply's audio is scheduled `lead_s` ahead, before its end."""
    ask(page)
    page.wait_for_function(
        "(lead) => voicewire.timeline.length >= 1"
        " && voicewire.timeline.at(-1).end - voicewire.currentTime >= lead",
        arg=lead_s,
        timeout=WAIT_MS,
    )
    assert page.evaluate("() => rec.turnEnds.length") == 0, "the turn ended before the cut"
    proxy.cut_threadsafe(half_open=half_open)
    page.wait_for_function("() => rec.disconnects.length >= 1", timeout=WAIT_MS)


def error_codes(page: Page) -> list[str]:
    codes: list[str] = page.evaluate("() => rec.errors.map((e) => e.code)")
    return codes


# half_open: the server's side of the old socket stays open and silent, like a phone that
# vanished in a tunnel; the resume takes the session over from it (the server closes it, 4002).
@pytest.mark.parametrize("half_open", [False, True], ids=["both-sides-cut", "half-open"])
def test_a_reply_cut_mid_stream_resumes_and_the_page_shows_the_whole_text_and_plays_all_audio(
    half_open: bool, proxy: CutProxy, open_page: Callable[[CutProxy], Page]
) -> None:
    page = open_page(proxy)
    session_id = page.evaluate("() => voicewire.session.session_id")
    # Cut with 1.5 s of speech scheduled ahead: the resume (backoff ~0.5 s) is back before it
    # has played out, so the replayed audio has to follow it without a gap.
    cut_mid_reply(page, proxy, lead_s=1.5, half_open=half_open)
    drop = page.evaluate("() => rec.disconnects[0]")
    assert 0 < drop["textLength"] < len(REPLY), "the cut came after the whole text"
    # Cut mid-reply, the turn goes on in the page: no local end, the audio keeps playing.
    assert drop["turnEnds"] == 0 and drop["scheduled"] >= 1
    assert drop["busy"] is True and drop["resuming"] is True

    page.wait_for_function("() => rec.resumed.length >= 1", timeout=WAIT_MS)
    resumed = page.evaluate("() => rec.resumed[0]")
    assert resumed["session_id"] == session_id
    assert resumed["seq"] == drop["last_seq"] == resumed["last_seq"]
    assert page.evaluate("() => rec.readies.length") == 0, "a new session started"

    end = wait_turn_end(page)
    wait_playback_end(page, end["turn_id"])
    # The whole reply, as an uninterrupted run shows it.
    assert end["status"] == "complete"
    assert end["text"] == REPLY
    assert end["bubbleText"] == REPLY
    assert page.locator("#log .msg.bot").count() == 1
    assert page.locator("#log .msg.bot").get_attribute("data-status") == "complete"
    # No seq gap (the replay starts at last_seq + 1), no text mismatch, nothing undecodable.
    assert error_codes(page) == []

    result = page.evaluate(
        """() => ({
            stats: { ...voicewire.stats },
            rate: voicewire.audioFormat.sample_rate,
            segEnds: rec.segEnds,
            records: voicewire.timeline,
            labels: rec.labels,
            lastSeq: voicewire.lastSeq,
        })"""
    )
    seg_ends, records, rate = result["segEnds"], result["records"], result["rate"]
    assert len(seg_ends) >= 3
    assert [s["segment_id"] for s in seg_ends] == list(range(len(seg_ends)))
    # Every audio frame came exactly once: before the cut or in the replay.
    assert result["stats"]["receivedSamples"] == sum(s["samples"] for s in seg_ends)
    expected_ms = sum(s["duration_ms"] for s in seg_ends)
    scheduled_ms = sum(r["samples"] / r["rate"] for r in records) * 1000
    assert abs(scheduled_ms - expected_ms) <= 0.05 * expected_ms, (scheduled_ms, expected_ms)
    played_ms = result["stats"]["playedSamples"] * 1000 / rate
    assert abs(played_ms - expected_ms) <= 0.05 * expected_ms, (played_ms, expected_ms)
    # In order, never overlapping, nothing stopped: the audio scheduled before the cut played on.
    order = [(r["segment_id"], r["sample_offset"]) for r in records]
    assert order == sorted(order), "buffers were scheduled out of order"
    for a, b in itertools.pairwise(records):
        assert b["start"] >= a["end"] - 1e-9, f"buffers overlap: {a} then {b}"
    assert all(r["stopped_at"] is None for r in records)
    # The first replayed buffer starts exactly where the last one before the cut ends.
    before, after = records[drop["scheduled"] - 1], records[drop["scheduled"]]
    assert after["start"] == pytest.approx(before["end"], abs=1e-6), (before, after)
    assert result["lastSeq"] > drop["last_seq"]
    # The page said so.
    assert "Reconnecting…" in result["labels"] and "Reconnected" in result["labels"]
    # The resumed session kept its settings: the client did not send them again.
    sent = page.evaluate("() => rec.sent")
    assert [m["type"] for m in sent if m["afterResumes"]] == []
    assert page.evaluate("() => voicewire.session.rate") == RATE


def test_a_resume_a_restarted_server_cannot_honour_ends_in_a_new_session_on_the_same_conversation(
    data_dir: Path, proxy: CutProxy, open_page: Callable[[CutProxy], Page]
) -> None:
    page = open_page(proxy)
    first = page.evaluate("() => [voicewire.session.session_id, voicewire.conversationId]")
    # Another server on the same data dir (same secret, same database) takes the proxy's
    # traffic: like a restarted server, it knows the tokens but not the session.
    with _server(data_dir) as restarted:
        proxy.upstream_port = restarted
        cut_mid_reply(page, proxy)
        page.wait_for_function("() => rec.readies.length >= 1", timeout=WAIT_MS)
        page.wait_for_function(
            "() => rec.errors.some((e) => e.code === 'resume_unavailable')", timeout=WAIT_MS
        )
        after = page.evaluate(
            """() => ({
                session: voicewire.session.session_id,
                conversation: voicewire.conversationId,
                resumeToken: voicewire.resumeToken,
                readyToken: rec.readies[0].resume_token,
                resumed: rec.resumed.length,
                turnEnds: rec.turnEnds,
                busy: voicewire.busy,
            })"""
        )
        assert after["session"] != first[0]
        assert after["conversation"] == first[1]
        assert after["resumeToken"] == after["readyToken"] and after["resumeToken"]
        assert after["resumed"] == 0
        # The reply in flight is lost to this page: it ended here as interrupted and went quiet.
        [lost] = after["turnEnds"]
        assert lost["status"] == "interrupted" and lost["disconnected"] is True
        assert REPLY.startswith(lost["text"]) and lost["text"] != REPLY
        assert not after["busy"]
        # The new session was told the settings again.
        page.wait_for_function(f"() => voicewire.session.rate === {RATE}", timeout=WAIT_MS)
        updates = page.evaluate("() => rec.sent.filter((m) => m.afterReadies === 1)")
        assert [(m["type"], m.get("rate")) for m in updates] == [("session.update", RATE)]
        old = page.locator("#log .msg.bot").first
        assert old.get_attribute("data-status") == "interrupted"
        assert "seq_gap" not in error_codes(page)

        # The new session works, on the same conversation.
        ask(page, "And the kitchen?")
        end = wait_turn_end(page, 2)
        assert end["status"] == "complete" and end["text"] == REPLY
        new = page.locator("#log .msg.bot").last
        assert new.get_attribute("data-session") == after["session"]
        assert new.locator(".bubble").text_content() == REPLY
        assert "seq_gap" not in error_codes(page)


def test_a_resume_token_the_server_refuses_falls_back_to_a_new_session(
    proxy: CutProxy, open_page: Callable[[CutProxy], Page]
) -> None:
    page = open_page(proxy)
    first = page.evaluate("() => [voicewire.session.session_id, voicewire.conversationId]")
    # A forged token: the server refuses the handshake (HTTP 403); the client sees only a failed
    # socket, finds the server up, and drops the resume.
    page.evaluate("() => { voicewire.connection.resumeToken = 'forged.token'; }")
    cut_mid_reply(page, proxy)
    page.wait_for_function(
        "() => rec.readies.length >= 1 && voicewire.state === 'open'", timeout=WAIT_MS
    )
    after: dict[str, Any] = page.evaluate(
        """() => ({
            session: voicewire.session.session_id,
            conversation: voicewire.conversationId,
            turnEnds: rec.turnEnds,
            codes: rec.errors.map((e) => e.code),
            resumed: rec.resumed.length,
        })"""
    )
    assert after["session"] != first[0]
    assert after["conversation"] == first[1]
    assert after["resumed"] == 0
    assert "resume_refused" in after["codes"] and "seq_gap" not in after["codes"]
    [lost] = after["turnEnds"]
    assert lost["status"] == "interrupted" and lost["disconnected"] is True
    ask(page, "And the kitchen?")
    end = wait_turn_end(page, 2)
    assert end["status"] == "complete" and end["text"] == REPLY
