"""The `voicewire` command, run as users run it: a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port


def test_serve_starts_the_server_and_answers_healthz(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "VOICEWIRE_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "voicewire", "serve", "--port", str(port)]
    command += ["--llm", "scripted", "--tts", "fake", "--log-level", "warning"]
    proc = subprocess.Popen(command, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "server exited"
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert r.json()["llm"] == "scripted"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_an_unknown_engine_fails_at_startup_with_a_clear_message() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "voicewire", "serve", "--port", str(free_port()), "--llm", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "unknown LLM engine 'nope'" in proc.stderr
    assert "Traceback" not in proc.stderr
