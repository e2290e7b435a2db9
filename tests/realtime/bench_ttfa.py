"""The same reply over `/ws` and `/v1/realtime`: time to first audio and wire bytes per second
of speech. A script, not a test (no timed assertions): prints a table.

    PYTHONPATH=src python -m tests.realtime.bench_ttfa --tts piper --runs 5

One server in this process (scripted LLM at a steady token rate, the chosen TTS), raw
websockets clients, runs interleaved so both endpoints see the same machine load.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from websockets.asyncio.client import connect

from tests.conftest import serve
from voicewire.config import Settings
from voicewire.llm.scripted import DEFAULT_REPLY, ScriptedLLM
from voicewire.server.app import create_app

QUESTION = "Tell me about the flat"


async def ws_turn(url: str, codec: str, rate: int) -> dict[str, float]:
    async with connect(url + "/ws", subprotocols=["voicewire.v1"], max_size=None) as ws:  # type: ignore[list-item]
        await ws.recv()  # session.ready
        await ws.send(json.dumps({"type": "session.update", "codec": codec, "sample_rate": rate}))
        while json.loads(await ws.recv())["type"] != "session.updated":
            pass
        sent = time.perf_counter()
        await ws.send(
            json.dumps({"type": "user.message", "id": uuid.uuid4().hex, "text": QUESTION})
        )
        first, wire, speech_ms = 0.0, 0, 0
        async for frame in ws:
            if isinstance(frame, bytes):
                first = first or time.perf_counter() - sent
                wire += len(frame)
                continue
            event = json.loads(frame)
            if event["type"] == "segment.end":
                speech_ms += event["duration_ms"]
            elif event["type"] == "turn.end":
                break
    seconds = speech_ms / 1000
    return {"ttfa_ms": first * 1000, "bytes_per_s": wire / seconds, "speech_s": seconds}


async def realtime_turn(url: str) -> dict[str, float]:
    async with connect(url + "/v1/realtime?model=voicewire", max_size=None) as ws:
        await ws.recv()  # session.created
        content = [{"type": "input_text", "text": QUESTION}]
        item = {"type": "message", "role": "user", "content": content}
        sent = time.perf_counter()
        await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
        await ws.send(json.dumps({"type": "response.create"}))
        first, wire, samples = 0.0, 0, 0
        async for frame in ws:
            event = json.loads(frame)
            if event["type"] == "response.output_audio.delta":
                first = first or time.perf_counter() - sent
                wire += len(frame)
                samples += len(base64.b64decode(event["delta"])) // 2
            elif event["type"] == "response.done":
                break
    seconds = samples / 24000
    return {"ttfa_ms": first * 1000, "bytes_per_s": wire / seconds, "speech_s": seconds}


async def bench(base: str, runs: int) -> dict[str, list[dict[str, float]]]:
    url = base.replace("http", "ws", 1)
    results: dict[str, list[dict[str, float]]] = {
        "/ws pcm16 24 kHz": [],
        "/ws opus": [],
        "/v1/realtime": [],
    }
    await realtime_turn(url)  # warm-up: the voice's first run
    for _ in range(runs):
        results["/ws pcm16 24 kHz"].append(await ws_turn(url, "pcm16", 24000))
        results["/ws opus"].append(await ws_turn(url, "opus", 48000))
        results["/v1/realtime"].append(await realtime_turn(url))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tts", default="piper")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(llm="scripted", tts=args.tts, data_dir=Path(data), persist=False)
        llm = ScriptedLLM(DEFAULT_REPLY, tokens_per_second=30, first_token_ms=100)
        with serve(create_app(settings, llm=llm)) as base:
            results = asyncio.run(bench(base, args.runs))
    print(f"tts={args.tts}, {args.runs} runs each, median (min-max)")
    print(f"{'endpoint':<18} {'TTFA ms':>22} {'wire bytes/s of speech':>24} {'speech s':>9}")
    for name, rows in results.items():
        ttfa = [r["ttfa_ms"] for r in rows]
        rate = statistics.median(r["bytes_per_s"] for r in rows)
        spread = f"{statistics.median(ttfa):.0f} ({min(ttfa):.0f}-{max(ttfa):.0f})"
        print(f"{name:<18} {spread:>22} {rate:>24.0f} {rows[0]['speech_s']:>9.1f}")


if __name__ == "__main__":
    main()
