"""Shared fixtures. `serve(app)` runs a real uvicorn server on a free port in a thread."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicewire.server.runner import free_port, serve_in_thread

serve = serve_in_thread
__all__ = ["free_port", "serve"]

OUTPUT_DIR = Path(__file__).resolve().parent.parent / "test-output"


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT_DIR.mkdir(exist_ok=True)
    return OUTPUT_DIR
