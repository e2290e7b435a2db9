"""`voicewire bench latency`: when the user first sees and hears the reply, against the floor.

One server in this process (scripted LLM, real TTS), one client over a real socket. For each
turn: time to first text (TTFT), time to first audio (TTFA), turn time, and the floor — the
moment the first segment's text was complete plus the time to synthesize that text alone. The
same reply also goes through the seed's pipeline on the same engines (whole reply, then TTS of
all of it, then base64 in JSON) for comparison.
"""

from __future__ import annotations

import asyncio
import base64
import json
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console

from voicewire.bench import write_json
from voicewire.bench.tables import summary_table
from voicewire.client import Client, TurnResult
from voicewire.config import Settings
from voicewire.engines import build_tts
from voicewire.llm.base import ChatMessage
from voicewire.llm.scripted import DEFAULT_REPLY, ScriptedLLM
from voicewire.protocol.frames import AudioFrame
from voicewire.protocol.messages import SegmentStart, TextDelta
from voicewire.server.app import create_app
from voicewire.server.runner import serve_in_thread
from voicewire.tts.base import TTS

# A first sentence of 25 words with no comma: nothing can be spoken before it is complete, so
# the time from its text to its first audio is the synthesis's own latency on a long sentence.
LONG_FIRST_SENTENCE = (
    "The apartment on Maple Street has two bedrooms and a bright kitchen with a balcony "
    "that looks out over the quiet park across the road. It is free from March."
)


async def _synth_seconds(tts: TTS, text: str) -> float:
    start = time.perf_counter()
    async for _ in tts.synthesize(text):
        pass
    return time.perf_counter() - start


def _measure(result: TurnResult, sent: float, synth_first: float) -> dict[str, float]:
    events = result.events
    ttft = next(t for t, e in events if isinstance(e, TextDelta)) - sent
    ttfa = next(t for t, e in events if isinstance(e, AudioFrame)) - sent
    first = next(e for _, e in events if isinstance(e, SegmentStart))
    written = 0
    complete_at = sent
    for t, e in events:
        if isinstance(e, TextDelta):
            written += len(e.text)
            if written >= first.char_end:
                complete_at = t
                break
    floor = complete_at - sent + synth_first
    return {
        "ttft_ms": ttft * 1000,
        "ttfa_ms": ttfa * 1000,
        # The first segment's text complete (as the client saw it) → its first audio frame.
        "after_text_ms": (ttfa - (complete_at - sent)) * 1000,
        "floor_ms": floor * 1000,
        "ttfa_minus_floor_ms": (ttfa - floor) * 1000,
        "turn_ms": (events[-1][0] - sent) * 1000,
    }


async def _naive(llm: ScriptedLLM, tts: TTS) -> float:
    """The seed's pipeline: whole reply, then TTS of all of it, then base64 inside JSON."""
    start = time.perf_counter()
    text = "".join([d async for d in llm.stream([ChatMessage("user", "hi")])])
    pcm = b"".join([c.pcm async for c in tts.synthesize(text)])
    json.dumps({"type": "voice", "audio": base64.b64encode(pcm).decode(), "text": text})
    return (time.perf_counter() - start) * 1000


def run(
    *,
    turns: int,
    tps: float,
    tts: str,
    json_path: Path | None,
    reply: str = DEFAULT_REPLY,
    persist: bool = True,
    naive: bool = True,
    first_token_ms: float = 0.0,
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as data:
        return _run(turns, tps, tts, json_path, reply, persist, naive, Path(data), first_token_ms)


def _run(
    turns: int,
    tps: float,
    tts: str,
    json_path: Path | None,
    reply: str,
    persist: bool,
    with_naive: bool,
    data_dir: Path,
    first_token_ms: float,
) -> dict[str, float]:
    settings = Settings(
        llm="scripted",
        tts=tts,
        scripted_reply=reply,
        scripted_tps=tps,
        persist=persist,
        data_dir=data_dir,
        scripted_first_token_ms=first_token_ms,
    )
    engine = build_tts(settings)
    llm = ScriptedLLM(reply, tokens_per_second=tps, first_token_ms=settings.scripted_first_token_ms)
    app = create_app(settings, llm=llm, tts=engine)
    rows: list[dict[str, float]] = []
    with serve_in_thread(app) as base:
        url = base.replace("http", "ws", 1) + "/ws"

        async def session() -> None:
            async with Client(url) as client:
                for i in range(turns + 1):
                    sent = time.monotonic()
                    result = await client.ask(f"question {i}")
                    first = next(e for _, e in result.events if isinstance(e, SegmentStart))
                    synth = await _synth_seconds(engine, first.speech)
                    if i > 0:  # the first turn warms caches up
                        rows.append(_measure(result, sent, synth))

        asyncio.run(session())
        naive_runs = max(1, min(turns, 3)) if with_naive else 0
        naive = [asyncio.run(_naive(llm, engine)) for _ in range(naive_runs)]

    keys = ["ttft_ms", "ttfa_ms", "after_text_ms", "floor_ms", "ttfa_minus_floor_ms", "turn_ms"]
    summary = {k: statistics.median(r[k] for r in rows) for k in keys}
    if naive:
        summary["naive_ttfa_ms"] = statistics.median(naive)
        summary["naive_over_voicewire"] = summary["naive_ttfa_ms"] / summary["ttfa_ms"]
    title = (
        f"latency: scripted LLM at {tps:g} tok/s, tts={tts}, persist={persist}, "
        f"{turns} turns (median)"
    )
    Console().print(summary_table(title, summary_rows(summary)))
    if json_path:
        out = {
            "tps": tps,
            "tts": tts,
            "persist": persist,
            "turns": rows,
            "summary": summary,
            "words": len(reply.split()),
        }
        write_json(json_path, out)
    return summary


def summary_rows(summary: dict[str, float]) -> list[tuple[str, str]]:
    """The summary's (metric, value) rows, on the console and in the report's Markdown."""
    return [
        (k, f"{v:.1f}×" if k == "naive_over_voicewire" else f"{v:.1f}") for k, v in summary.items()
    ]
