"""`voicewire bench resume`: what a dropped connection costs, in memory and in Redis.

- Resume gap: a spoken reply is cut after its third audio frame (an abrupt reset, through a
  proxy); the client reconnects with its resume token at once. Measured from the start of the
  reconnect (TCP connect) and from the open socket to `session.resumed` and to the first
  replayed frame.
- Redis overhead per audio frame: a turn's worth of 200 ms pcm16 frames appended to a session's
  Redis log (pipelined, as the server does), per frame: the time and the memory in Redis.
- Time to first audio with each hub, to see the log's cost on the live path.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from websockets.asyncio.client import connect

from voicewire.bench import write_json
from voicewire.bench.tables import summary_table
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.engines import build_tts
from voicewire.llm.scripted import DEFAULT_REPLY, ScriptedLLM
from voicewire.protocol.frames import AudioFrame, decode_frame
from voicewire.protocol.messages import PROTOCOL_VERSION, TurnEnd, TurnStart
from voicewire.resume import Control, SessionState
from voicewire.server.app import create_app
from voicewire.server.runner import serve_in_thread

FRAME_BYTES = 8820  # 200 ms of pcm16 at 22050 Hz, the default voice and frame


async def _proxy(upstream: int) -> tuple[asyncio.Server, list[asyncio.StreamWriter]]:
    """A TCP proxy whose client connections can be reset (the list holds them)."""
    clients: list[asyncio.StreamWriter] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
        clients.append(writer)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    return await asyncio.start_server(accept, "127.0.0.1", 0), clients


async def _one_resume(base: str) -> dict[str, float]:
    server, clients = await _proxy(int(base.rsplit(":", 1)[1]))
    port = server.sockets[0].getsockname()[1]
    try:
        async with Client(f"ws://127.0.0.1:{port}/ws", resume=False) as client:
            await client.send("talk to me")
            frames = 0
            while frames < 3:
                frames += isinstance(await client.receive(), AudioFrame)
            for writer in clients:
                writer.transport.abort()
            token, resume, last_seq = client.token, client.resume_token, client.last_seq
        assert token and resume
        url = base.replace("http", "ws", 1) + f"/ws?token={token}&resume={resume}"
        url += f"&last_seq={last_seq}"
        started = time.perf_counter()
        async with connect(url, subprotocols=[PROTOCOL_VERSION]) as ws:  # type: ignore[list-item]
            opened = time.perf_counter()
            await ws.recv()  # session.resumed
            resumed = time.perf_counter()
            first = await ws.recv()
            replayed = time.perf_counter()
            if isinstance(first, bytes):
                assert decode_frame(first).seq == last_seq + 1
            while True:  # the rest of the reply, so the next run starts on a quiet server
                data = await ws.recv()
                if isinstance(data, str) and '"turn.end"' in data:
                    break
    finally:
        server.close()
    return {
        "connect_ms": (opened - started) * 1000,
        "open_to_resumed_ms": (resumed - opened) * 1000,
        "open_to_first_replayed_ms": (replayed - opened) * 1000,
        "reconnect_to_first_replayed_ms": (replayed - started) * 1000,
    }


async def _ttfa(base: str, turns: int) -> list[float]:
    out = []
    async with Client(base.replace("http", "ws", 1) + "/ws") as client:
        for _ in range(turns):
            await client.send("talk to me")
            sent = time.perf_counter()
            first = None
            while True:
                event = await client.receive()
                if isinstance(event, AudioFrame) and first is None:
                    first = time.perf_counter()
                if isinstance(event, TurnEnd):
                    break
                if isinstance(event, TurnStart):
                    continue
            assert first is not None
            out.append((first - sent) * 1000)
    return out


async def _redis_append(url: str, frames: int) -> dict[str, float]:
    from voicewire.resume.redis import RedisHub

    hub = RedisHub(url, ttl_s=60, cap=4096, prefix=f"vwbench{uuid.uuid4().hex[:6]}")
    await hub.start()
    try:
        state = SessionState(
            session_id="bench", subject="bench", conversation_id="", seq=0, next_turn=1
        )

        async def ignore(control: Control) -> None:
            return None

        log = await hub.open(state, ignore)
        assert log is not None
        payload = bytes(range(256)) * (FRAME_BYTES // 256) + bytes(FRAME_BYTES % 256)
        started = time.perf_counter()
        for seq in range(1, frames + 1):
            log.append(seq, payload)
            if seq % 5 == 0:
                await asyncio.sleep(0)  # frames come a few at a time, as a turn sends them
        await log.handoff(state.model_copy(update={"seq": frames}))
        elapsed = time.perf_counter() - started
        key = hub._key("bench", "log")
        memory = await hub.redis.memory_usage(key) or 0
        await hub.redis.delete(key, *hub._keys("bench", "state", "gen"))
    finally:
        await hub.close()
    return {
        "frames": frames,
        "frame_bytes": FRAME_BYTES,
        "us_per_frame": elapsed / frames * 1e6,
        "redis_bytes_per_frame": memory / frames,
    }


def _server(tts: str, redis_url: str | None, data: Path) -> Any:
    settings = Settings(llm="scripted", tts=tts, data_dir=data, redis_url=redis_url)
    llm = ScriptedLLM(DEFAULT_REPLY, tokens_per_second=30, first_token_ms=0)
    return serve_in_thread(create_app(settings, llm=llm, tts=build_tts(settings)))


def run(
    *,
    runs: int = 10,
    tts: str = "piper",
    redis_url: str | None = "redis://127.0.0.1:6379/0",
    frames: int = 2000,
    json_path: Path | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    hubs: list[tuple[str, str | None]] = [("memory", None)]
    if redis_url:
        hubs.append(("redis", redis_url))
    results: dict[str, Any] = {"tts": tts, "runs": runs, "hubs": {}}
    for name, url in hubs:
        with tempfile.TemporaryDirectory() as data, _server(tts, url, Path(data)) as base:
            gaps = [asyncio.run(_one_resume(base)) for _ in range(runs)]
            ttfa = asyncio.run(_ttfa(base, runs))
        summary = {
            f"{k}_{stat}": fn([g[k] for g in gaps])
            for k in gaps[0]
            for stat, fn in (("p50", statistics.median), ("max", max))
        }
        summary["ttfa_p50_ms"] = statistics.median(ttfa)
        results["hubs"][name] = {"runs": gaps, "ttfa_ms": ttfa, "summary": summary}
    if redis_url:
        results["redis_append"] = asyncio.run(_redis_append(redis_url, frames))
    if not quiet:
        _print(results)
    if json_path:
        write_json(json_path, results)
    return results


def _print(results: dict[str, Any]) -> None:
    hubs = results["hubs"]
    title = f"resume: {results['runs']} cuts after the 3rd audio frame, tts={results['tts']}"
    rows = [
        (metric, *(f"{hubs[h]['summary'][metric]:.2f}" for h in hubs))
        for metric in next(iter(hubs.values()))["summary"]
    ]
    console = Console()
    console.print(summary_table(title, rows, values=list(hubs)))
    append = results.get("redis_append")
    if append:
        console.print(
            f"Redis log: {append['us_per_frame']:.1f} µs and "
            f"{append['redis_bytes_per_frame']:.0f} bytes per {append['frame_bytes']}-byte frame "
            f"({append['frames']} frames, pipelined)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="voicewire bench resume", description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tts", default="piper")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="'' to skip")
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--json", type=Path, dest="json_path")
    args = parser.parse_args(argv)
    run(
        runs=args.runs,
        tts=args.tts,
        redis_url=args.redis_url or None,
        frames=args.frames,
        json_path=args.json_path,
    )
    return 0
