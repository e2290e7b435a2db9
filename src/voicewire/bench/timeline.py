"""One turn's timeline, measured for `voicewire.bench.plots`: a voicewire turn as the client saw
it (text deltas, segments, audio frames, real-time playback) and the seed's naive pipeline on
the same engines. Numbers only; the drawing (matplotlib) is in `plots`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from voicewire.bench.latency import _measure, _synth_seconds
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


def turn_timeline(result: TurnResult, sent: float) -> dict[str, Any]:
    """A voicewire turn as times (s since the message was sent): deltas, segments, frames."""
    rate = result.sample_rate
    deltas: list[float] = []
    written: list[tuple[float, int]] = []  # (time, reply chars written so far)
    frames: list[tuple[float, float, int]] = []  # (time, duration s, segment)
    starts: list[SegmentStart] = []
    chars = 0
    for t, e in result.events:
        if isinstance(e, TextDelta):
            chars += len(e.text)
            deltas.append(t - sent)
            written.append((t - sent, chars))
        elif isinstance(e, SegmentStart):
            starts.append(e)
        elif isinstance(e, AudioFrame):
            frames.append((t - sent, len(e.payload) / 2 / rate, e.segment_id))
    segments = []
    for s in starts:
        complete = next((t for t, n in written if n >= s.char_end), written[-1][0])
        mine = [t for t, d, i in frames if i == s.segment_id and d > 0]
        if mine:
            segments.append({"id": s.segment_id, "text_complete": complete, "first_audio": mine[0]})
    # Real-time playback from the first frame, waiting for data when it runs dry.
    playing: list[tuple[float, float]] = []
    ends: float | None = None
    for t, d, _ in frames:
        if d <= 0:
            continue
        begin = t if ends is None or t > ends else ends
        if playing and abs(playing[-1][1] - begin) < 1e-9:
            playing[-1] = (playing[-1][0], begin + d)
        else:
            playing.append((begin, begin + d))
        ends = begin + d
    return {
        "deltas": deltas,
        "segments": segments,
        "frames": [(t, i) for t, d, i in frames if d > 0],
        "playback": playing,
        "turn_end": result.events[-1][0] - sent,
    }


async def naive_timeline(llm: ScriptedLLM, tts: TTS) -> dict[str, Any]:
    """The seed's pipeline, timed: whole reply, then TTS of all of it, then base64 in JSON."""
    start = time.monotonic()
    tokens: list[float] = []
    parts: list[str] = []
    async for delta in llm.stream([ChatMessage("user", "hi")]):
        tokens.append(time.monotonic() - start)
        parts.append(delta)
    text_done = time.monotonic() - start
    text = "".join(parts)
    pcm = b"".join([c.pcm async for c in tts.synthesize(text)])
    synth_done = time.monotonic() - start
    json.dumps({"type": "voice", "audio": base64.b64encode(pcm).decode(), "text": text})
    sent = time.monotonic() - start
    return {
        "tokens": tokens,
        "text_done": text_done,
        "synth_done": synth_done,
        "sent": sent,
        "audio_s": len(pcm) / 2 / tts.sample_rate,
    }


def capture(*, tts: str = "piper", tps: float = 30.0, reply: str = DEFAULT_REPLY) -> dict[str, Any]:
    """Run one measured turn (after a warm-up one) and the naive pipeline; their timelines."""
    with tempfile.TemporaryDirectory(prefix="voicewire-bench-") as data:
        settings = Settings(
            llm="scripted",
            tts=tts,
            scripted_reply=reply,
            scripted_tps=tps,
            scripted_first_token_ms=0.0,
            data_dir=Path(data),
        )
        engine = build_tts(settings)
        llm = ScriptedLLM(reply, tokens_per_second=tps, first_token_ms=0.0)
        with serve_in_thread(create_app(settings, llm=llm, tts=engine)) as base:
            url = base.replace("http", "ws", 1) + "/ws"

            async def session() -> tuple[TurnResult, float, float]:
                async with Client(url) as client:
                    await client.ask("warm up")
                    sent = time.monotonic()
                    result = await client.ask("question")
                first = next(e for _, e in result.events if isinstance(e, SegmentStart))
                return result, sent, await _synth_seconds(engine, first.speech)

            result, sent, synth_first = asyncio.run(session())
            naive = asyncio.run(naive_timeline(llm, engine))
    return {
        "tts": tts,
        "tps": tps,
        "words": len(reply.split()),
        "voicewire": turn_timeline(result, sent),
        "measured": _measure(result, sent, synth_first),
        "naive": naive,
    }
