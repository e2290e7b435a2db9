"""A `voicewire serve` subprocess for the benchmarks that need a server of their own
(concurrency, Poisson arrivals, idle), and the machine-wide measures they share."""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil  # type: ignore[import-untyped]

from voicewire.server.runner import free_port


@dataclass(frozen=True, slots=True)
class ServerProcess:
    """A `voicewire serve` subprocess: its base `ws://` URL and the process to measure."""

    url: str
    process: psutil.Process
    log: Path

    def cpu_seconds(self) -> float:
        t = self.process.cpu_times()
        return float(t.user + t.system)

    def rss(self) -> int:
        return int(self.process.memory_info().rss)


@contextmanager
def server_process(
    *,
    tts: str,
    env: Mapping[str, str] | None = None,
    startup_timeout_s: float = 120.0,
) -> Iterator[ServerProcess]:
    """Run `python -m voicewire serve --llm scripted --tts TTS` on a free port until exit.

    Settings come from `env` (`VOICEWIRE_*`); inherited `VOICEWIRE_*` variables are dropped so
    a run does not depend on the caller's shell. Data (SQLite, secret) go to a temp dir.
    """
    with tempfile.TemporaryDirectory(prefix="voicewire-bench-") as tmp:
        port = free_port()
        environ = {k: v for k, v in os.environ.items() if not k.startswith("VOICEWIRE_")}
        environ.update({"VOICEWIRE_DATA_DIR": tmp, **(env or {})})
        log = Path(tmp) / "server.log"
        args = [sys.executable, "-m", "voicewire", "serve", "--llm", "scripted", "--tts", tts]
        args += ["--port", str(port), "--log-level", "warning"]
        with log.open("wb") as out:
            proc = subprocess.Popen(args, env=environ, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_healthy(proc, f"http://127.0.0.1:{port}/healthz", log, startup_timeout_s)
            yield ServerProcess(f"ws://127.0.0.1:{port}", psutil.Process(proc.pid), log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


def add_speech_options(parser: argparse.ArgumentParser) -> None:
    """`--load-limit`, `--start-limit` and `--speech-capacity`: the server's admission of
    spoken turns."""
    parser.add_argument(
        "--load-limit", type=float, default=None, help="speech_load_limit (default: the server's)"
    )
    parser.add_argument(
        "--start-limit", type=float, default=None, help="speech_start_limit (default: the server's)"
    )
    parser.add_argument(
        "--speech-capacity",
        type=float,
        default=None,
        help="speech_capacity, s of speech per s; 0: unbounded (default: measured)",
    )


def speech_env(
    load_limit: float | None, speech_capacity: float | None, start_limit: float | None = None
) -> dict[str, str]:
    """The server's `speech_load_limit`, `speech_capacity` and `speech_start_limit` as its
    environment; None leaves the server's default (its limits; the capacity it measures)."""
    env = {}
    if load_limit is not None:
        env["VOICEWIRE_SPEECH_LOAD_LIMIT"] = repr(load_limit)
    if start_limit is not None:
        env["VOICEWIRE_SPEECH_START_LIMIT"] = repr(start_limit)
    if speech_capacity is not None:
        env["VOICEWIRE_SPEECH_CAPACITY"] = repr(speech_capacity)
    return env


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer {url} within {timeout_s:g} s")
        time.sleep(0.1)


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all processes, all cores) since boot."""
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


def own_cpu_seconds() -> float:
    """CPU seconds this process (the benchmark's clients) has used."""
    t = psutil.Process().cpu_times()
    return float(t.user + t.system)


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`th percentile (linear interpolation); NaN for no values."""
    return float(np.percentile(values, q)) if values else float("nan")


def server_metrics(server: ServerProcess) -> dict[str, float]:
    """The server's `/metrics` samples without labels, by name (e.g. the speech capacity)."""
    from prometheus_client.parser import text_string_to_metric_families

    url = server.url.replace("ws://", "http://", 1) + "/metrics"
    with urllib.request.urlopen(url, timeout=10.0) as response:
        text = response.read().decode()
    return {
        s.name: float(s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.labels
    }


def server_capacity(server: ServerProcess) -> float | None:
    """The server's synthesis capacity (s of speech per s); None when it does not know it."""
    value = server_metrics(server).get("voicewire_speech_capacity")
    return None if value is None or math.isnan(value) else value
