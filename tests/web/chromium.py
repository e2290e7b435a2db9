"""Debian's Chromium for the browser tests: where it is, how it starts, if it is missing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--headless=new",
]


@contextmanager
def launch(extra_args: Sequence[str] = ()) -> Iterator[Browser]:
    """Start Chromium (never a downloaded browser); skip without it, fail under CI=true."""
    if CHROMIUM is None:
        reason = "chromium is not installed (run `make chromium`); the browser tests need it"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args], headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
