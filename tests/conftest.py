"""Shared fixtures. `serve(app)` runs a real uvicorn server in a thread, on a socket it holds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.waiting import until_sync
from voicewire.server.runner import free_port, serve_in_thread

serve = serve_in_thread  # a real uvicorn server in a thread, on a socket bound beforehand

__all__ = ["bound_socket", "free_port", "inherited_socket", "serve", "serve_process"]

# A server's synthesis capacity is measured on the machine it runs on, so under the test suite's
# own load a turn could be answered text-only depending on what else the box is doing. Tests
# speak every turn unless they set a capacity (tests/server/test_speech_load.py does); their
# servers, threads and subprocesses alike, read this from the environment.
os.environ.setdefault("VOICEWIRE_SPEECH_CAPACITY", "0")
# A test process makes hundreds of apps: freezing each one's objects out of the collector's
# reach would keep their garbage for the whole run (tests/server/test_services.py tests it).
os.environ.setdefault("VOICEWIRE_GC_FREEZE", "0")

OUTPUT_DIR = Path(__file__).resolve().parent.parent / "test-output"


def bound_socket() -> socket.socket:
    """A listening TCP socket on a port of 127.0.0.1 the kernel chose.

    The port is held from the moment it is chosen, so no other process can take it before
    the server starts (as it could between `free_port()` and uvicorn's own bind). Connections
    made before the server accepts wait in the backlog.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def inherited_socket() -> socket.socket:
    """A `bound_socket` a `voicewire serve --fd N` subprocess inherits (pass_fds=(N,))."""
    sock = bound_socket()
    sock.set_inheritable(True)
    return sock


def serve_process(
    sock: socket.socket,
    env: dict[str, str],
    *args: str,
    command: Sequence[str] = (sys.executable, "-m", "voicewire"),
    **popen: Any,
) -> subprocess.Popen[bytes]:
    """`voicewire serve --llm scripted --tts fake` in a subprocess, serving the inherited `sock`
    (`inherited_socket()`); returned once its /healthz answers."""
    port, fd = sock.getsockname()[1], sock.fileno()
    serve = [*command, "serve", "--fd", str(fd), "--llm", "scripted", "--tts", "fake"]
    proc = subprocess.Popen(
        [*serve, "--log-level", "warning", *args], env=env, pass_fds=(fd,), **popen
    )

    def healthy() -> bool:
        assert proc.poll() is None, "the server exited"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).is_success
        except httpx.TransportError:
            return False  # not answering yet (a timeout too: it is only asked again)

    try:
        until_sync(healthy, "the server to start")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT_DIR.mkdir(exist_ok=True)
    return OUTPUT_DIR
