"""The React example app (clients/example-react, built with Vite on @voicewire/react), driven in
Debian's Chromium against a real server: a typed question gets a spoken reply whose highlighted
word advances through it.

The app is built into a temporary directory and served under the server's origin by Playwright's
request routing, so its socket goes to the real server's /ws.
"""

from __future__ import annotations

import mimetypes
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Route

from tests.web.chromium import launch
from tests.web.test_browser import REPLY, WAIT_MS, _server

# A page fulfilled by the test (not fetched from the network) counts as public to Chromium, which
# then blocks its socket to the loopback server; the demo page is fetched, so it needs no flag.
LOCAL_PAGE_ARGS = ["--disable-features=LocalNetworkAccessChecks"]
CLIENTS = Path(__file__).resolve().parents[2] / "clients"
APP = "/react-example/"

# Samples the highlighted word of the reply (its offset in the text and its text) whenever it
# changes, and keeps the page's uncaught errors.
RECORDER = """() => {
  window.marks = [];
  setInterval(() => {
    const mark = document.querySelector("#messages li.assistant mark");
    if (!mark) return;
    let offset = 0;
    for (let n = mark.previousSibling; n; n = n.previousSibling) offset += n.textContent.length;
    const last = window.marks[window.marks.length - 1];
    if (!last || last[0] !== offset || last[1] !== mark.textContent) {
      window.marks.push([offset, mark.textContent]);
    }
  }, 25);
}"""


@pytest.fixture(scope="module")
def built_app() -> Iterator[Path]:
    """The example app, built by Vite from the workspace `make js` installs."""
    npm = shutil.which("npm")
    if npm is None or not (CLIENTS / "node_modules" / ".bin" / "vite").exists():
        reason = "the JS workspace is not installed (run `make js`)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    out = Path(tempfile.mkdtemp(prefix="voicewire-react-"))
    subprocess.run(
        [
            npm,
            "run",
            "--silent",
            "--workspace",
            "voicewire-example-react",
            "build",
            "--",
            "--outDir",
            str(out),
            "--emptyOutDir",
            "--logLevel",
            "warn",
        ],
        cwd=CLIENTS,
        check=True,
    )
    yield out
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    yield from _server(REPLY, 25)


def test_a_typed_question_in_the_react_app_gets_a_spoken_reply_with_the_word_advancing(
    built_app: Path, base_url: str
) -> None:
    def fulfil(route: Route) -> None:
        path = route.request.url.split(APP, 1)[1].split("?", 1)[0] or "index.html"
        file = built_app / path
        if not file.is_file():
            route.fulfill(status=404)
            return
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        route.fulfill(body=file.read_bytes(), content_type=kind)

    errors: list[str] = []
    with launch(LOCAL_PAGE_ARGS) as browser:
        context = browser.new_context()
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.route(f"{base_url}{APP}**", fulfil)
        page.goto(f"{base_url}{APP}index.html")
        page.wait_for_function(
            "() => document.querySelector('#status')?.dataset.status === 'open'", timeout=WAIT_MS
        )
        page.evaluate(RECORDER)
        page.fill("#message", "Tell me about the flat")
        page.click("#send")  # a user gesture: the hook's client starts its AudioContext
        page.wait_for_function(
            "() => document.querySelector('#messages li.assistant')?.dataset.status === 'complete'",
            timeout=WAIT_MS,
        )
        # The reply is heard to its end: the highlight goes and `speaking` turns off.
        page.wait_for_function(
            "() => window.marks.length >= 3 && !document.querySelector('#messages mark')",
            timeout=WAIT_MS,
        )
        marks = page.evaluate("() => window.marks")
        user = page.locator("#messages li.user .text").text_content()
        bot = page.locator("#messages li.assistant .text").text_content()
        context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"
    assert user == "Tell me about the flat"
    assert bot == REPLY
    offsets = [offset for offset, _ in marks]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets), marks
    for offset, word in marks:
        assert word and REPLY[offset : offset + len(word)] == word
    assert len({word for _, word in marks}) >= 3
