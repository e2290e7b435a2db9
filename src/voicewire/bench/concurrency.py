"""`python -m voicewire.bench.concurrency`: N sessions speaking at once on one server.

The server runs as a subprocess (`python -m voicewire serve`, scripted LLM, real Piper by
default), so its CPU is measured alone; the clients run in this process. For each N of the
sweep, N sessions connect, then all ask at the same moment, and each plays its reply back in
real time from its first audio frame: the playback clock runs with the wall clock, and when the
audio that is due has not arrived yet, that is an underrun (one event, and silence until the
next frame arrives — the clock waits for the data, as a player's would).

Per N: time to first audio (TTFA) p50/p95 over the sessions, underruns (events, sessions
affected, total silence), sessions answered as text only because speech was at capacity
(`notice` `speech_overloaded`), turn time (message sent → `turn.end`), the synthesis
throughput (all sessions' audio / the time until the last turn ended: at a level that
saturates the workers this is the capacity), and the CPU the server process used over the
level (% of one core; the machine's cores × 100% is all of it).

The capacity is measured in the same run: the highest throughput of any level, next to the
server's own estimate (`voicewire_speech_capacity`: its start-up probe, then measured on the
synthesis queue). The verdict is the largest N with zero underruns and every session spoken,
and that N as a fraction of the capacity (each session needs one second of speech per second).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.console import Console

from voicewire.bench import write_json
from voicewire.bench.serverproc import (
    add_speech_options,
    busy_cpu_seconds,
    own_cpu_seconds,
    percentile,
    server_capacity,
    server_metrics,
    server_process,
    speech_env,
)
from voicewire.bench.tables import concurrency_markdown, concurrency_table
from voicewire.client import Client, TurnResult
from voicewire.client.playback import PlaybackClock
from voicewire.protocol.frames import AudioFrame
from voicewire.protocol.messages import Notice, TurnEnd

# The results as tables (`python -m voicewire.bench report` prints `markdown`).
table, markdown = concurrency_table, concurrency_markdown

SWEEP = (1, 4, 8, 12, 16, 20, 24)
TTFA_TARGET_MS = 400.0  # issue 16's target for 12 sessions starting at once
# 59 words, ~20 s spoken by Piper's joe voice; at 30 tok/s the text is written in ~2 s.
REPLY = (
    "Sure, I can help with that. The apartment on Maple Street has two bedrooms, a bright "
    "kitchen and a small balcony that faces the park. It costs $1,850 a month, utilities "
    "included, and it is available from March 1st. The building has an elevator, a bike room "
    "and a laundry on the ground floor. Shall I book a visit?"
)


def underruns(frames: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Underruns of real-time playback of `frames` ((arrival s, duration s), in order).

    Playback starts when the first audio arrives. A frame that arrives after everything before
    it has been played is an underrun: the silence lasts until it arrives, and playback goes
    on from there. Returns each underrun as (when the audio ran dry, silence in s).
    """
    clock = PlaybackClock()
    gaps = (clock.feed(arrived, duration) for arrived, duration in frames)
    return [(gap.dry_at, gap.silence_s) for gap in gaps if gap is not None]


def playback(frames: Sequence[tuple[float, float]]) -> tuple[int, float]:
    """(underrun events, total silence in s) of real-time playback of `frames`."""
    dry = underruns(frames)
    return len(dry), sum(s for _, s in dry)


def session_stats(result: TurnResult, sent: float) -> dict[str, Any]:
    """One session's turn: TTFA, turn time, audio, and underruns of real-time playback."""
    rate = result.sample_rate
    frames = [(t, len(e.payload) / 2 / rate) for t, e in result.events if isinstance(e, AudioFrame)]
    audible = [t for t, d in frames if d > 0]
    dry = underruns(frames)
    end = result.end
    return {
        "ttfa_ms": (audible[0] - sent) * 1000 if audible else None,
        "turn_ms": (result.events[-1][0] - sent) * 1000,
        "audio_s": sum(d for _, d in frames),
        "frames": len(frames),
        "underruns": len(dry),
        "underrun_ms": sum(s for _, s in dry) * 1000,
        # When each underrun began (s since the message was sent) and how long it lasted (ms).
        "underrun_at": [[round(t - sent, 3), round(s * 1000, 1)] for t, s in dry],
        "text_only": any(isinstance(e, Notice) for _, e in result.events),
        "status": end.status if isinstance(end, TurnEnd) else "none",
        "errors": [e.code for e in result.errors],
    }


async def _ask(client: Client, question: str, timeout_s: float) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        sent = time.monotonic()
        result = await client.ask(question)
    return session_stats(result, sent)


async def _level(url: str, sessions: int, timeout_s: float) -> list[dict[str, Any]]:
    clients = [Client(url, open_timeout=60, report_underruns=True) for _ in range(sessions)]
    try:
        await asyncio.gather(*(c.open() for c in clients))
        # All sessions are open; now they all ask at once.
        return list(
            await asyncio.gather(
                *(_ask(c, f"question {i}", timeout_s) for i, c in enumerate(clients))
            )
        )
    finally:
        await asyncio.gather(
            *(c.ws.close() for c in clients if c.connected), return_exceptions=True
        )


def _summarize(
    sessions: int, rows: list[dict[str, Any]], wall: float, cpu: float, own: float
) -> dict[str, Any]:
    ttfa = [r["ttfa_ms"] for r in rows if r["ttfa_ms"] is not None]
    turn = [r["turn_ms"] for r in rows]
    return {
        "sessions": sessions,
        "ttfa_p50_ms": percentile(ttfa, 50),
        "ttfa_p95_ms": percentile(ttfa, 95),
        "ttfa_max_ms": max(ttfa, default=float("nan")),
        "underruns": sum(r["underruns"] for r in rows),
        "sessions_with_underruns": sum(1 for r in rows if r["underruns"]),
        "underrun_ms": sum(r["underrun_ms"] for r in rows),
        "underrun_ms_max": max((r["underrun_ms"] for r in rows), default=0.0),
        "text_only": sum(1 for r in rows if r["text_only"]),
        # Seconds of speech synthesized per second, until the last turn ended.
        "throughput": sum(r["audio_s"] for r in rows) / (max(turn, default=0.0) / 1000 or 1.0),
        "turn_p50_ms": percentile(turn, 50),
        "turn_max_ms": max(turn, default=float("nan")),
        "audio_s": percentile([r["audio_s"] for r in rows], 50),
        "server_cpu_pct": 100 * cpu / wall,
        "client_cpu_pct": 100 * own / wall,
        "wall_s": wall,
        "incomplete": sum(1 for r in rows if r["status"] != "complete" or r["errors"]),
        "clients": rows,
    }


def run(
    *,
    sessions: Sequence[int] = SWEEP,
    tts: str = "piper",
    tps: float = 30.0,
    reply: str = REPLY,
    first_token_ms: float = 0.0,
    turn_timeout_s: float = 600.0,
    json_path: Path | None = None,
    quiet: bool = False,
    baseline: Path | None = None,
    load_limit: float | None = None,
    speech_capacity: float | None = None,
    start_limit: float | None = None,
) -> dict[str, Any]:
    """`baseline`: the `src` directory of another checkout; its server runs beside this one's
    and each level is measured on both, one after the other, so both see the same machine.
    `load_limit`, `speech_capacity`, `start_limit`: the servers' settings (None: their defaults)."""
    env = {
        **speech_env(load_limit, speech_capacity, start_limit),
        "VOICEWIRE_SCRIPTED_REPLY": reply,
        "VOICEWIRE_SCRIPTED_TPS": str(tps),
        "VOICEWIRE_SCRIPTED_FIRST_TOKEN_MS": str(first_token_ms),
        "VOICEWIRE_MAX_CONNECTIONS": str(max(1000, 2 * max(sessions, default=1))),
    }
    variants: dict[str, dict[str, str]] = {"this": env}
    if baseline is not None:
        variants = {"baseline": {**env, "PYTHONPATH": str(baseline.resolve())}, "this": env}
    levels: list[dict[str, Any]] = []
    with ExitStack() as stack:
        servers = {
            name: stack.enter_context(server_process(tts=tts, env=variant))
            for name, variant in variants.items()
        }
        probed = {name: server_capacity(server) for name, server in servers.items()}
        for server in servers.values():  # warm-up (first synthesis), not counted
            asyncio.run(_level(server.url + "/ws", 1, turn_timeout_s))
        for n in sessions:
            for name, server in servers.items():
                time.sleep(0.5)  # let the previous level's tail (writes, closes) settle
                cpu0, own0, all0 = server.cpu_seconds(), own_cpu_seconds(), busy_cpu_seconds()
                t0 = time.monotonic()
                rows = asyncio.run(_level(server.url + "/ws", n, turn_timeout_s))
                wall = time.monotonic() - t0
                cpu, own = server.cpu_seconds() - cpu0, own_cpu_seconds() - own0
                level = _summarize(n, rows, wall, cpu, own)
                # Everything else the machine ran meanwhile (it is shared: this is the noise).
                level["other_cpu_pct"] = 100 * (busy_cpu_seconds() - all0 - cpu - own) / wall
                level["code"] = name
                levels.append(level)
        capacity = {
            name: {
                "probe": probed[name],
                "server": server_capacity(server),
                "measured": max(lv["throughput"] for lv in levels if lv["code"] == name),
                "reported_underruns": server_metrics(server).get(
                    "voicewire_client_underruns_total", 0.0
                ),
            }
            for name, server in servers.items()
        }
    out = {
        "suite": "concurrency",
        "tts": tts,
        "tps": tps,
        "first_token_ms": first_token_ms,
        "load_limit": load_limit,
        "speech_capacity": speech_capacity,
        "start_limit": start_limit,
        "words": len(reply.split()),
        "cpus": os.cpu_count(),
        "levels": levels,
        "capacity": capacity if baseline else capacity["this"],
        "summary": {
            name: _verdict([lv for lv in levels if lv["code"] == name], capacity[name])
            for name in variants
        }
        if baseline
        else _verdict(levels, capacity["this"]),
    }
    if not quiet:
        Console(width=max(Console().width, 140)).print(concurrency_table(out))
    if json_path:
        write_json(json_path, out)
    return out


def _verdict(levels: list[dict[str, Any]], capacity: dict[str, Any]) -> dict[str, Any]:
    """The most sessions with zero underruns, every session spoken (at that level and every
    smaller one), as a fraction of the run's capacity; and of those, with TTFA p95 ≤ target."""
    single = next((lv for lv in levels if lv["sessions"] == 1), None)
    clean = fast = 0
    for lv in sorted(levels, key=lambda lv: lv["sessions"]):
        lv["clean"] = not lv["underruns"] and not lv["incomplete"] and not lv["text_only"]
        if not lv["clean"]:
            break
        fast = lv["sessions"] if fast == clean and lv["ttfa_p95_ms"] <= TTFA_TARGET_MS else fast
        clean = lv["sessions"]
    measured = capacity["measured"]
    return {
        "ttfa_1_session_ms": single["ttfa_p50_ms"] if single else float("nan"),
        "ttfa_target_ms": TTFA_TARGET_MS,
        "max_clean_sessions": clean,
        "max_clean_sessions_within_ttfa": fast,
        "capacity": measured,
        "fraction_of_capacity": clean / measured if measured else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default=",".join(map(str, SWEEP)), help="e.g. 1,4,8")
    parser.add_argument("--tts", default="piper", help="piper | fake")
    parser.add_argument("--tps", type=float, default=30.0, help="scripted LLM tokens/s")
    parser.add_argument("--reply", default=REPLY, help="the scripted reply")
    parser.add_argument("--first-token-ms", type=float, default=0.0)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--baseline", type=Path, default=None, help="another checkout's src dir to compare with"
    )
    add_speech_options(parser)
    args = parser.parse_args(argv)
    out = run(
        sessions=[int(n) for n in args.sessions.split(",") if n.strip()],
        tts=args.tts,
        tps=args.tps,
        reply=args.reply,
        first_token_ms=args.first_token_ms,
        json_path=args.json,
        baseline=args.baseline,
        load_limit=args.load_limit,
        speech_capacity=args.speech_capacity,
        start_limit=args.start_limit,
    )
    return 1 if any(lv["incomplete"] for lv in out["levels"]) else 0


if __name__ == "__main__":
    sys.exit(main())
