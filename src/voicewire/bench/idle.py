"""`python -m voicewire.bench.idle`: what idle connections cost the server.

The server runs as a subprocess (`python -m voicewire serve`, scripted LLM, fake TTS by default)
so its memory is its own. N idle sessions connect (each a distinct guest, like N browser tabs:
handshake, `session.ready`, then nothing); the server's RSS before and after, divided by N, is
the cost of one idle connection.

Event-loop lag: the server exposes no lag metric, so the run measures what a client feels —
the round trip of `{"type":"ping"}` → `pong`, every 50 ms on two probe sessions taking turns,
while one other session is speaking (asking again as soon as a reply ends), for 25 s: longer
than the server's 20 s keepalive, so every idle session's WebSocket ping falls in the window.
A blocked server loop delays every pong by as long as it is blocked, so the RTT is an upper
bound of the lag (it also holds the socket and client time: ~0.1–0.5 ms on loopback).
Measured twice: before the idle sessions connect, and while they are all open.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from websockets.asyncio.client import ClientConnection, connect
from websockets.protocol import State

from voicewire.bench import write_json
from voicewire.bench.serverproc import (
    ServerProcess,
    busy_cpu_seconds,
    percentile,
    server_process,
)
from voicewire.bench.tables import summary_markdown, summary_table
from voicewire.client import Client
from voicewire.llm.scripted import DEFAULT_REPLY
from voicewire.protocol.messages import PROTOCOL_VERSION

# Longer than the server's 20 s keepalive interval: the window sees every idle session's
# WebSocket ping (1,000 sessions → 50 pings/s), as a server in steady state does.
WINDOW_S = 25.0


def raise_fd_limit(needed: int) -> int:
    """Raise this process's open-file limit to at least `needed` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise RuntimeError(f"{needed} open files needed; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        soft = needed
    return int(soft)


async def _open(url: str, compression: str | None) -> ClientConnection:
    ws = await connect(
        url,
        subprotocols=[PROTOCOL_VERSION],  # type: ignore[list-item]
        compression=compression,
        ping_interval=None,  # idle: the client sends nothing (the server still pings)
        open_timeout=120,
    )
    ready = json.loads(await ws.recv())
    if ready.get("type") != "session.ready":
        await ws.close()
        raise RuntimeError(f"expected session.ready, got {ready}")
    return ws


async def _open_many(
    url: str, n: int, compression: str | None, parallel: int
) -> list[ClientConnection]:
    gate = asyncio.Semaphore(parallel)

    async def one() -> ClientConnection:
        async with gate:
            return await _open(url, compression)

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def _ping(ws: ClientConnection, ping_id: str) -> float:
    start = time.perf_counter()
    await ws.send(json.dumps({"type": "ping", "id": ping_id}))
    while True:
        data = await ws.recv()
        if isinstance(data, str):
            msg = json.loads(data)
            if msg.get("type") == "pong" and msg.get("id") == ping_id:
                return (time.perf_counter() - start) * 1000


async def _lag(
    server: ServerProcess,
    speaker: Client,
    probes: Sequence[ClientConnection],
    window_s: float,
    interval_s: float,
) -> dict[str, Any]:
    """Ping RTTs every `interval_s` for `window_s` while `speaker` keeps asking."""
    stop = asyncio.Event()
    turns = 0

    async def speak() -> None:
        nonlocal turns
        while not stop.is_set():
            result = await speaker.ask(f"question {turns}")
            if result.end is None or result.end.status != "complete":
                raise RuntimeError(f"the speaking session's turn ended {result.end}")
            turns += 1

    cpu0, all0, t0 = server.cpu_seconds(), busy_cpu_seconds(), time.monotonic()
    speaking = asyncio.create_task(speak())
    rtts: list[float] = []
    sent_at: list[float] = []
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.sleep(0.2)  # the turn is under way
    for i in itertools.count():
        if loop.time() - start >= window_s:
            break
        sent_at.append(loop.time() - start)
        rtts.append(await _ping(probes[i % len(probes)], f"p{i}"))
        await asyncio.sleep(max(0.0, start + (i + 1) * interval_s - loop.time()))
    stop.set()
    await speaking
    wall = time.monotonic() - t0
    cpu = server.cpu_seconds() - cpu0
    return {
        "pings": len(rtts),
        "rtt_p50_ms": percentile(rtts, 50),
        "rtt_p99_ms": percentile(rtts, 99),
        "rtt_max_ms": max(rtts, default=float("nan")),
        "speaking_turns": turns,
        "server_cpu_pct": 100 * cpu / wall,
        # Everything else, this process included (the machine is shared: this is the noise).
        "rest_cpu_pct": 100 * (busy_cpu_seconds() - all0 - cpu) / wall,
        # Every ping: [s since the window opened, RTT ms] (to see when the slow ones happened).
        "series": [[round(t, 3), round(r, 3)] for t, r in zip(sent_at, rtts, strict=True)],
    }


async def _measure(
    server: ServerProcess,
    n: int,
    window_s: float,
    interval_s: float,
    compression: str | None,
    parallel: int,
) -> dict[str, Any]:
    url = server.url + "/ws"
    async with Client(url, compression=compression) as speaker:
        probes = [await _open(url, compression) for _ in range(2)]
        await speaker.ask("warm up")
        before = await _lag(server, speaker, probes, window_s, interval_s)
        await asyncio.sleep(0.5)
        rss0 = server.rss()
        t0 = time.monotonic()
        idle = await _open_many(url, n, compression, parallel)
        open_s = time.monotonic() - t0
        await asyncio.sleep(1.0)
        rss1 = server.rss()
        during = await _lag(server, speaker, probes, window_s, interval_s)
        still_open = sum(1 for ws in idle if ws.state is State.OPEN)
        await asyncio.gather(*(ws.close() for ws in [*idle, *probes]), return_exceptions=True)
    return {
        "connections": n,
        "open_s": open_s,
        "still_open": still_open,
        "rss_before": rss0,
        "rss_after": rss1,
        "rss_per_connection": (rss1 - rss0) / n,
        "lag_before": before,
        "lag_idle": during,
    }


def run(
    *,
    connections: int = 1000,
    tts: str = "fake",
    window_s: float = WINDOW_S,
    interval_ms: float = 50.0,
    tps: float = 30.0,
    reply: str = DEFAULT_REPLY,
    deflate: bool = True,
    parallel: int = 50,
    json_path: Path | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """`deflate`: offer permessage-deflate as browsers do (the server keeps zlib state for it)."""
    raise_fd_limit(connections + 256)
    env = {
        "VOICEWIRE_SCRIPTED_REPLY": reply,
        "VOICEWIRE_SCRIPTED_TPS": str(tps),
        "VOICEWIRE_SCRIPTED_FIRST_TOKEN_MS": "0",
        "VOICEWIRE_MAX_CONNECTIONS": str(max(5000, connections + 10)),
    }
    compression = "deflate" if deflate else None
    with server_process(tts=tts, env=env) as server:
        result = asyncio.run(
            _measure(server, connections, window_s, interval_ms / 1000, compression, parallel)
        )
    out = {
        "suite": "idle",
        "tts": tts,
        "deflate": deflate,
        "interval_ms": interval_ms,
        "window_s": window_s,
        **result,
    }
    if not quiet:
        Console(width=max(Console().width, 100)).print(table(out))
    if json_path:
        write_json(json_path, out)
    return out


def table(out: dict[str, Any]) -> Table:
    n = out["connections"]
    rows = [
        ("server RSS before (MB)", f"{out['rss_before'] / 1e6:.1f}"),
        (f"server RSS with {n} idle (MB)", f"{out['rss_after'] / 1e6:.1f}"),
        ("RSS per idle connection (KB)", f"{out['rss_per_connection'] / 1000:.1f}"),
        ("idle sessions still open at the end", f"{out['still_open']} / {n}"),
        (f"time to open {n} (s)", f"{out['open_s']:.1f}"),
    ]
    for key, label in (("lag_before", "0 idle"), ("lag_idle", f"{n} idle")):
        lag = out[key]
        rows.append((f"ping RTT p50 / p99 / max, {label} (ms)", _rtts(lag)))
        rows.append(
            (
                f"  pings, speaking turns, CPU % server / rest of machine, {label}",
                f"{lag['pings']}, {lag['speaking_turns']}, "
                f"{lag['server_cpu_pct']:.0f} / {lag['rest_cpu_pct']:.0f}",
            )
        )
    t = summary_table(
        f"idle: {n} idle sessions, one speaking (tts={out['tts']}, "
        f"deflate={'on' if out['deflate'] else 'off'})",
        rows,
    )
    t.caption = (
        f"loop lag ≤ ping RTT: ping → pong every {out['interval_ms']:g} ms on a separate "
        "session while one session speaks"
    )
    return t


def _rtts(lag: dict[str, Any]) -> str:
    return f"{lag['rtt_p50_ms']:.2f} / {lag['rtt_p99_ms']:.2f} / {lag['rtt_max_ms']:.2f}"


def markdown(out: dict[str, Any]) -> str:
    """The results as a Markdown table (for docs/benchmarks.md)."""
    n = out["connections"]
    rows = [
        (
            "server RSS before → with idle sessions (MB)",
            f"{out['rss_before'] / 1e6:.1f} → {out['rss_after'] / 1e6:.1f}",
        ),
        ("RSS per idle connection (KB)", f"{out['rss_per_connection'] / 1000:.1f}"),
        ("idle sessions still open at the end", f"{out['still_open']} / {n}"),
        ("ping RTT p50 / p99 / max, 0 idle (ms)", _rtts(out["lag_before"])),
        (f"ping RTT p50 / p99 / max, {n} idle (ms)", _rtts(out["lag_idle"])),
        (
            "CPU % server / rest of machine, 0 idle",
            f"{out['lag_before']['server_cpu_pct']:.0f} / {out['lag_before']['rest_cpu_pct']:.0f}",
        ),
        (
            f"CPU % server / rest of machine, {n} idle",
            f"{out['lag_idle']['server_cpu_pct']:.0f} / {out['lag_idle']['rest_cpu_pct']:.0f}",
        ),
    ]
    head = f"{n} idle, tts={out['tts']}, deflate={'on' if out['deflate'] else 'off'}"
    return summary_markdown(head, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--tts", default="fake", help="fake | piper (for the speaking session)")
    parser.add_argument(
        "--window", type=float, default=WINDOW_S, help="seconds of pings, per phase"
    )
    parser.add_argument("--interval-ms", type=float, default=50.0)
    parser.add_argument("--no-deflate", action="store_true", help="clients offer no compression")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    out = run(
        connections=args.connections,
        tts=args.tts,
        window_s=args.window,
        interval_ms=args.interval_ms,
        deflate=not args.no_deflate,
        json_path=args.json,
    )
    return 0 if out["still_open"] == out["connections"] else 1


if __name__ == "__main__":
    sys.exit(main())
