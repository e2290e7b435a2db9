"""The browser client resumes after exactly the closes tests/vectors/close_codes.json says
(PROTOCOL.md §8), like the Python client (tests/client/test_close_codes.py).

No server is needed: the page and web/voicewire.js are served by Playwright's request routing,
and the client's own disconnect handling is driven with each close code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route

from tests.web.chromium import launch

WEB = Path(__file__).resolve().parents[2] / "src" / "voicewire" / "web"
VECTOR: list[dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "close_codes.json").read_text()
)["close_codes"]
ORIGIN = "http://voicewire.test"


def _fulfil(route: Route) -> None:
    if route.request.url.endswith("/voicewire.js"):
        route.fulfill(body=(WEB / "voicewire.js").read_text(), content_type="text/javascript")
    else:
        route.fulfill(body="<!doctype html><title>close codes</title>", content_type="text/html")


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with launch() as browser:
        context = browser.new_context()
        page = context.new_page()
        page.route(ORIGIN + "/**", _fulfil)
        page.goto(ORIGIN + "/")
        yield page
        context.close()


# For each code: a client with a live session (identity, resume token, frames received) sees
# its socket close with that code. It either keeps the session for a resume, or ends it.
DISCONNECT = """async (vector) => {
    const { VoicewireClient, RESUMABLE_CLOSE_CODES } = await import("/voicewire.js");
    const decisions = vector.map(({ code }) => {
        // Far-off reconnects: the decision is what is looked at, not the reconnect.
        const c = new VoicewireClient("ws://voicewire.test/ws", {
            autoUnlock: false, backoffMs: 600000, maxBackoffMs: 600000,
        });
        // The session layer (c.connection) holds the identity and decides on the resume.
        Object.assign(c.connection, { token: "t", resumeToken: "r", _lastSeq: 7 });
        let disconnected = null;
        c.on("disconnected", (d) => { disconnected = d.code; });
        c.connection._onDisconnect({ code, reason: "" }, true);
        const kept = { code, resuming: c.resuming, resumeToken: c.resumeToken, disconnected };
        c.destroy();
        return kept;
    });
    const table = RESUMABLE_CLOSE_CODES ? [...RESUMABLE_CLOSE_CODES].sort((a, b) => a - b) : null;
    return { table, decisions };
}"""


def test_the_browser_client_has_the_protocol_table_of_resumable_close_codes(page: Page) -> None:
    result = page.evaluate(DISCONNECT, VECTOR)
    assert result["table"] == sorted(e["code"] for e in VECTOR if e["resumable"])


def test_the_browser_client_resumes_after_exactly_the_closes_the_vector_says(page: Page) -> None:
    result = page.evaluate(DISCONNECT, VECTOR)
    wrong = []
    for entry, got in zip(VECTOR, result["decisions"], strict=True):
        assert got["code"] == entry["code"]
        # Resumable: the session and its token are kept, and `disconnected` says a resume
        # follows. Not: the session is ended here and its resume token forgotten.
        kept = (True, "r", entry["code"])
        ended = (False, None, None)
        ok = (got["resuming"], got["resumeToken"], got["disconnected"]) == (
            kept if entry["resumable"] else ended
        )
        if not ok:
            wrong.append((entry["code"], entry["resumable"], got))
    assert wrong == [], f"closes decided against the vector: {wrong}"
