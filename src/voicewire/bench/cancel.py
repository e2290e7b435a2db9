"""`voicewire bench cancel`: how fast a barge-in silences the server.

For each run: one spoken turn (scripted LLM, real TTS), cancelled once its first audio frame
arrived. Reported: cancel → `turn.end`, and cancel → the last audio frame of that turn to
arrive (0 when none followed the cancel). Frames in flight on the socket are counted too, so
this is an upper bound of the server's own stop time.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from voicewire.bench import write_json
from voicewire.bench.tables import summary_table
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.engines import build_tts
from voicewire.llm.scripted import DEFAULT_REPLY, ScriptedLLM
from voicewire.protocol.frames import AudioFrame
from voicewire.protocol.messages import TurnEnd, TurnStart
from voicewire.server.app import create_app
from voicewire.server.runner import serve_in_thread


async def _one(client: Client) -> dict[str, float]:
    await client.send("talk to me")
    turn_id = None
    while True:
        event = await client.receive()
        if isinstance(event, TurnStart):
            turn_id = event.turn_id
        elif isinstance(event, AudioFrame) and event.turn_id == turn_id:
            break
    assert turn_id is not None
    await asyncio.sleep(0.2)  # let the server get ahead of playback, as in real use
    cancelled = time.monotonic()
    await client.cancel(turn_id, played_ms=200)
    last_audio = cancelled
    frames_after = 0
    while True:
        event = await client.receive()
        if isinstance(event, AudioFrame) and event.turn_id == turn_id:
            last_audio, frames_after = time.monotonic(), frames_after + 1
        elif isinstance(event, TurnEnd) and event.turn_id == turn_id:
            ended = time.monotonic()
            break
    return {
        "cancel_to_turn_end_ms": (ended - cancelled) * 1000,
        "cancel_to_last_audio_ms": (last_audio - cancelled) * 1000,
        "frames_after_cancel": frames_after,
    }


def run(*, runs: int = 10, tts: str = "piper", json_path: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(llm="scripted", tts=tts, data_dir=Path(data))
        llm = ScriptedLLM(DEFAULT_REPLY, tokens_per_second=30, first_token_ms=0)
        app = create_app(settings, llm=llm, tts=build_tts(settings))
        with serve_in_thread(app) as base:

            async def session() -> list[dict[str, float]]:
                async with Client(base.replace("http", "ws", 1) + "/ws") as client:
                    return [await _one(client) for _ in range(runs)]

            rows = asyncio.run(session())
    keys = ["cancel_to_turn_end_ms", "cancel_to_last_audio_ms", "frames_after_cancel"]
    summary = {
        f"{k}_{stat}": fn([r[k] for r in rows])
        for k in keys
        for stat, fn in (("p50", statistics.median), ("max", max))
    }
    lines = [(k, f"{v:.1f}") for k, v in summary.items()]
    Console().print(summary_table(f"barge-in: {runs} cancels, tts={tts}", lines))
    if json_path:
        write_json(json_path, {"runs": rows, "summary": summary})
    return summary
