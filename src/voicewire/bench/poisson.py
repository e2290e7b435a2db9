"""`python -m voicewire.bench poisson`: conversations with think time, at a target mean load.

The burst of the concurrency suite is the worst case; a service sees turns arrive at random.
Here M conversations run at once against one server subprocess (scripted LLM, real Piper by
default). Each asks, plays the reply in real time from its first audio (reporting underruns
to the server, as the browser does), waits until the reply has played out, thinks (exponential,
mean `think_s`), asks again, and so on until the level's time is up; it starts at a random point
of that cycle (`first_delay`). The turns of many such conversations arrive as a Poisson process.

The load is speech demand against capacity: the mean number of replies playing at once (each
from its first audio to its end, `arrivals.mean_playing`), from a reply's length into the level
(its warm-up) to its end, over the capacity in seconds of speech per second (the server's
`voicewire_speech_capacity`, probed at start-up and measured on its queue). (It was all turns'
audio over the wall time, which counted the empty start and the replies still playing after
the level's time as time without load.) M for a target load comes from the warm-up reply's
length and the mean think time.
Per level: the target and the mean load held, turns, turns answered text-only (the server's
overload answer), underruns (turns affected, silence), TTFA p50/p95, the replies the server
stored (complete, and any left 'streaming'), and the server's RSS, sampled every 5 s (its
growth: the last sample over the one a fifth into the level, after warm-up). The verdict is the
highest mean load held with zero underruns. A soak is one long level:
`--loads 0.8 --duration 600`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from voicewire.bench import write_json
from voicewire.bench.arrivals import first_delay, mean_playing, playing
from voicewire.bench.concurrency import REPLY, session_stats
from voicewire.bench.serverproc import (
    ServerProcess,
    add_speech_options,
    percentile,
    server_capacity,
    server_metrics,
    server_process,
    speech_env,
)
from voicewire.bench.tables import poisson_markdown, poisson_table
from voicewire.client import Client

# The results as tables (`python -m voicewire.bench report` prints `markdown`).
table, markdown = poisson_table, poisson_markdown

LOADS = (0.6, 0.8, 1.0)


async def _conversation(
    url: str,
    deadline: float,
    think_s: float,
    reply_s: float,
    rng: random.Random,
    rows: list[dict[str, Any]],
    start: float,
) -> None:
    async with Client(url, open_timeout=60, report_underruns=True) as client:
        # No question is asked after the deadline.
        think = first_delay(rng, think_s, reply_s)
        while think + time.monotonic() < deadline:
            await asyncio.sleep(think)
            sent = time.monotonic()
            result = await client.ask(f"question {len(rows)}")
            row = session_stats(result, sent)
            row["sent_s"] = sent - start  # into the level
            rows.append(row)
            # The reply plays out (from its first audio, with any silence) before the user
            # thinks of the next question.
            await asyncio.sleep(max(0.0, start + playing(row)[1] - time.monotonic()))
            think = rng.expovariate(1 / think_s)


async def _warm_up(url: str) -> dict[str, Any]:
    """One turn, not counted: the first synthesis, and how long the reply is."""
    async with Client(url, open_timeout=60) as client:
        sent = time.monotonic()
        return session_stats(await client.ask("hello"), sent)


async def _level(
    url: str, conversations: int, duration_s: float, think_s: float, reply_s: float, seed: int
) -> tuple[list[dict[str, Any]], float]:
    rows: list[dict[str, Any]] = []
    start = time.monotonic()
    deadline = start + duration_s
    rngs = [random.Random(seed * 1000 + i) for i in range(conversations)]
    await asyncio.gather(
        *(_conversation(url, deadline, think_s, reply_s, rng, rows, start) for rng in rngs)
    )
    return rows, time.monotonic() - start


class _RSS:
    """Samples the server's resident memory every `every_s` while the level runs."""

    def __init__(self, server: ServerProcess, every_s: float = 5.0) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(server, every_s), daemon=True)

    def _run(self, server: ServerProcess, every_s: float) -> None:
        while True:
            self.samples.append(server.rss() / 2**20)
            if self._stop.wait(every_s):
                return

    def __enter__(self) -> _RSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _replies(server: ServerProcess) -> dict[str, int]:
    """The server's stored replies by status (its SQLite file, read-only)."""
    db = server.log.parent / "voicewire.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        rows = conn.execute(
            "SELECT status, COUNT(*) FROM messages WHERE role = 'assistant' GROUP BY status"
        ).fetchall()
    return {str(status): int(n) for status, n in rows}


def _stored_after(server: ServerProcess, before: dict[str, int], turns: int) -> dict[str, int]:
    """Replies stored since `before`, once `turns` of them have landed (≤ 10 s). A reply is
    stored after its `turn.end` reaches the client, so the warm-up's or a level's last reply
    may land after the client has moved on: counted before a level starts, it would be
    counted as the level's."""
    deadline = time.monotonic() + 10.0
    while True:
        now = _replies(server)
        new = {k: now.get(k, 0) - before.get(k, 0) for k in now}
        landed = sum(new.values()) >= turns and not new.get("streaming")
        if landed or time.monotonic() > deadline:
            return new
        time.sleep(0.2)


def _summarize(
    target: float,
    conversations: int,
    rows: list[dict[str, Any]],
    wall: float,
    capacity: float,
    duration_s: float,
    warm_s: float,
) -> dict[str, Any]:
    spoken = [r for r in rows if not r["text_only"]]
    ttfa = [r["ttfa_ms"] for r in spoken if r["ttfa_ms"] is not None]
    speaking = mean_playing(rows, min(warm_s, duration_s / 2), duration_s)
    return {
        "target_load": target,
        "conversations": conversations,
        "turns": len(rows),
        "text_only": len(rows) - len(spoken),
        "mean_speaking": speaking,
        "mean_load": speaking / capacity,
        "underruns": sum(r["underruns"] for r in rows),
        "turns_with_underruns": sum(1 for r in rows if r["underruns"]),
        "underrun_ms": sum(r["underrun_ms"] for r in rows),
        "ttfa_p50_ms": percentile(ttfa, 50),
        "ttfa_p95_ms": percentile(ttfa, 95),
        "incomplete": sum(1 for r in rows if r["status"] != "complete" or r["errors"]),
        "wall_s": wall,
        # Each turn: sent_s, ttfa_ms, audio_s, underrun_at (s after sent, ms), text_only, ...
        "rows": rows,
    }


def _memory(samples: list[float]) -> dict[str, float]:
    base = samples[len(samples) // 5] if samples else float("nan")
    last = samples[-1] if samples else float("nan")
    return {
        "rss_mb_base": base,
        "rss_mb_last": last,
        "rss_mb_max": max(samples, default=0.0),
        "rss_growth": last / base - 1 if samples else float("nan"),
    }


def run(
    *,
    loads: Sequence[float] = LOADS,
    duration_s: float = 60.0,
    think_s: float = 4.0,
    tts: str = "piper",
    tps: float = 30.0,
    reply: str = REPLY,
    capacity: float | None = None,
    seed: int = 1,
    json_path: Path | None = None,
    quiet: bool = False,
    load_limit: float | None = None,
    speech_capacity: float | None = None,
    start_limit: float | None = None,
) -> dict[str, Any]:
    """`capacity` (s of speech per s): the load's denominator; default: the server's own.
    `load_limit`, `speech_capacity`, `start_limit`: the server's settings (None: its defaults)."""
    env = {
        **speech_env(load_limit, speech_capacity, start_limit),
        "VOICEWIRE_SCRIPTED_REPLY": reply,
        "VOICEWIRE_SCRIPTED_TPS": str(tps),
        "VOICEWIRE_SCRIPTED_FIRST_TOKEN_MS": "0",
    }
    levels = []
    with server_process(tts=tts, env=env) as server:
        url = server.url + "/ws"
        reply_s = max(asyncio.run(_warm_up(url))["audio_s"], 1.0)
        asked = 1  # replies asked for so far: a level counts only its own once they have landed
        cap = capacity or server_capacity(server) or 1.0
        # A conversation speaks reply_s out of every reply_s + think_s (TTFA aside).
        duty = reply_s / (reply_s + think_s)
        for target in loads:
            conversations = max(1, round(target * cap / duty))
            before = _stored_after(server, {}, asked)
            with _RSS(server) as rss:
                level_run = _level(url, conversations, duration_s, think_s, reply_s, seed)
                rows, wall = asyncio.run(level_run)
            level = _summarize(target, conversations, rows, wall, cap, duration_s, reply_s)
            level["stored"] = _stored_after(server, before, len(rows))
            asked += len(rows)
            level.update(_memory(rss.samples), rss_mb=rss.samples)
            levels.append(level)
        metrics, at_end = server_metrics(server), server_capacity(server)
    held = [lv["mean_load"] for lv in levels if not lv["underruns"] and not lv["incomplete"]]
    out = {
        "suite": "poisson",
        "tts": tts,
        "tps": tps,
        "think_s": think_s,
        "duration_s": duration_s,
        "reply_s": reply_s,
        "capacity": cap,
        "capacity_at_end": at_end,
        "load_limit": load_limit,
        "speech_capacity": speech_capacity,
        "start_limit": start_limit,
        "reported_underruns": metrics.get("voicewire_client_underruns_total", 0.0),
        "levels": levels,
        "summary": {"max_load_without_underruns": max(held, default=0.0)},
    }
    if not quiet:
        Console(width=max(Console().width, 120)).print(poisson_table(out))
    if json_path:
        write_json(json_path, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", default=",".join(map(str, LOADS)), help="e.g. 0.6,0.8")
    parser.add_argument("--duration", type=float, default=60.0, help="s per level")
    parser.add_argument("--think", type=float, default=4.0, help="mean think time, s")
    parser.add_argument("--tts", default="piper", help="piper | fake")
    parser.add_argument("--tps", type=float, default=30.0, help="scripted LLM tokens/s")
    parser.add_argument(
        "--capacity",
        type=float,
        default=None,
        help="the load's denominator, s/s (default: the server's)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    add_speech_options(parser)
    args = parser.parse_args(argv)
    out = run(
        loads=[float(x) for x in args.loads.split(",") if x.strip()],
        duration_s=args.duration,
        think_s=args.think,
        tts=args.tts,
        tps=args.tps,
        capacity=args.capacity,
        json_path=args.json,
        load_limit=args.load_limit,
        speech_capacity=args.speech_capacity,
        start_limit=args.start_limit,
    )
    return 1 if any(lv["incomplete"] for lv in out["levels"]) else 0


if __name__ == "__main__":
    sys.exit(main())
