"""`voicewire bench latency --scenario tool`: a turn that calls a tool, timed after its result.

One server in this process (the scripted tool-calling LLM, a real TTS), one client over a real
socket. Each turn the model calls `lookup`, which takes `tool_ms` (alternating between a quick
and a slow call, so that some turns need a bridge), then answers. Measured per turn, from the
moment the client got `tool.result`:

    after_result_ms   to the first audio of the answer (the first segment after the result)
    llm_clause_ms     to the moment the LLM had written that segment's text (its own time)
    overhead_ms       the difference: voicewire's share (TTS of the clause, framing, sending);
                      the target is ≤ 150 ms
    bridge            whether a bridge was spoken while the tool ran
"""

from __future__ import annotations

import asyncio
import itertools
import re
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from voicewire.bench import write_json
from voicewire.bench.tables import summary_markdown, summary_table
from voicewire.client import Client, TurnResult
from voicewire.config import Settings
from voicewire.engines import build_tts
from voicewire.llm.base import ToolCallDelta
from voicewire.llm.scripted import ScriptedToolLLM, Step, call_pieces
from voicewire.protocol.frames import AudioFrame
from voicewire.protocol.messages import SegmentStart, TextDelta, ToolResult
from voicewire.server.app import create_app
from voicewire.server.runner import serve_in_thread
from voicewire.tools import Toolbox, tool

ANSWER = (
    "I found two flats that match. The cheaper one is on Maple Street at $1,650 a month, "
    "and the other is near the station."
)
BRIDGE = "Let me check."


def measure(result: TurnResult) -> dict[str, float]:
    """A turn's times after its tool result (ms), and whether a bridge was spoken."""
    events = result.events
    at, written = next((t, i) for i, (t, e) in enumerate(events) if isinstance(e, ToolResult))
    said = sum(len(e.text) for _, e in events[:written] if isinstance(e, TextDelta))
    first = next(e for _, e in events if isinstance(e, SegmentStart) and e.char_end > said)
    audio = next(
        t
        for t, e in events
        if isinstance(e, AudioFrame) and e.segment_id == first.segment_id and t >= at
    )
    total, clause = 0, at
    for t, e in events:
        if isinstance(e, TextDelta):
            total += len(e.text)
            if total >= first.char_end:
                clause = t
                break
    bridged = any(isinstance(e, TextDelta) and BRIDGE in e.text for _, e in events)
    return {
        "after_result_ms": (audio - at) * 1000,
        "llm_clause_ms": (clause - at) * 1000,
        "overhead_ms": (audio - clause) * 1000,
        "bridge": float(bridged),
    }


def run(
    *,
    turns: int,
    tps: float,
    tts: str,
    json_path: Path | None,
    tool_ms: Sequence[float] = (250.0, 1200.0),
    first_token_ms: float = 150.0,
) -> dict[str, float]:
    durations = itertools.cycle(tool_ms)

    async def lookup(query: str) -> dict[str, Any]:
        """Look listings up."""
        await asyncio.sleep(next(durations) / 1000)
        return {"matches": 2}

    answer: list[str | ToolCallDelta] = list(re.findall(r"\s*\S+", ANSWER))
    steps: list[Step] = [call_pieces(0, "call_1", "lookup", '{"query": "flats"}'), answer]
    llm = ScriptedToolLLM(steps, tokens_per_second=tps, first_token_ms=first_token_ms)
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(llm="scripted", tts=tts, persist=False, data_dir=Path(data))
        engine = build_tts(settings)
        toolbox = Toolbox.of([tool(lookup)], bridge=BRIDGE)
        rows: list[dict[str, float]] = []
        with serve_in_thread(create_app(settings, llm=llm, tts=engine, tools=toolbox)) as base:

            async def session() -> None:
                async with Client(base.replace("http", "ws", 1) + "/ws") as client:
                    for i in range(turns + 1):
                        result = await client.ask(f"question {i}")
                        if i > 0:  # the first turn warms caches up
                            rows.append(measure(result))

            asyncio.run(session())
    keys = ["after_result_ms", "llm_clause_ms", "overhead_ms"]
    summary = {k: statistics.median(r[k] for r in rows) for k in keys}
    summary["overhead_max_ms"] = max(r["overhead_ms"] for r in rows)
    summary["bridge_rate"] = statistics.fmean(r["bridge"] for r in rows)
    title = (
        f"tool latency: tool {'/'.join(f'{t:g}' for t in tool_ms)} ms, LLM {tps:g} tok/s "
        f"after {first_token_ms:g} ms, tts={tts}, {turns} turns (median)"
    )
    Console().print(summary_table(title, _rows(summary)))
    if json_path:
        out = {"suite": "tool_latency", "tps": tps, "tts": tts, "tool_ms": list(tool_ms)}
        write_json(json_path, {**out, "turns": rows, "summary": summary})
    return summary


def markdown(out: dict[str, Any]) -> str:
    """The summary as a Markdown table (for `python -m voicewire.bench report`)."""
    head = f"tool latency: {len(out['turns'])} turns, tts={out['tts']} (median)"
    return summary_markdown(head, _rows(out["summary"]))


def _rows(summary: dict[str, float]) -> list[tuple[str, str]]:
    return [(k, f"{v:.0%}" if k == "bridge_rate" else f"{v:.1f}") for k, v in summary.items()]
