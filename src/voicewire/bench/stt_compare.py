"""`voicewire bench stt`: the STT engines side by side — how well they hear, how long the user
waits for the final transcript, and what interim transcripts cost.

- **WER** on `stt_set.REQUESTS` spoken by Piper (each a manual-mode utterance) and on the human
  recordings of `stt_set.human_set()`.
- **manual**: ms from `input_audio.stop` (`finish`) to the final transcript, each request fed
  whole first (as fast as the engine takes it: what a live microphone would have delivered).
- **vad**: each request and then silence through `VoiceInput` with `end: "vad"`, paced in real
  time 20 ms frames (interim decodes run as they would live): ms from the frame that closes
  the silence window to the final transcript (the window itself, `stt_silence_ms`, is not
  counted).
- **interim CPU**: CPU seconds spent on interim decodes per second of speech (process time of
  a decode with interims, each let finish as a live speaker would, minus one without).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from voicewire.bench import write_json
from voicewire.bench.stt_set import REQUESTS, human_set, speak, wer
from voicewire.stt import STT, build_stt
from voicewire.stt.utterances import VoiceInput

RATE = 16000
CHUNK = 640  # 20 ms
ENGINES = ("whisper", "pocketsphinx")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _manual(engine: STT, pcm: bytes) -> tuple[str, float]:
    stream = engine.stream(sample_rate=RATE)
    for i in range(0, len(pcm), CHUNK):
        await stream.feed(pcm[i : i + CHUNK])
    settle = getattr(stream, "settle", None)
    if settle is not None:
        await settle()
    started = time.perf_counter()
    final = await stream.finish()
    return final.text, time.perf_counter() - started


async def _vad(engine: STT, pcm: bytes, silence_ms: int) -> tuple[str, float]:
    finals: list[str] = []

    async def on_speech(_: str) -> None:
        return None

    async def on_transcript(_: str, text: str, final: bool) -> None:
        if final:
            finals.append(text)

    voice = VoiceInput(
        engine,
        sample_rate=RATE,
        end_by_vad=True,
        on_speech=on_speech,
        on_transcript=on_transcript,
        silence_ms=silence_ms,
    )
    frames = [pcm[i : i + CHUNK] for i in range(0, len(pcm), CHUNK)] + [bytes(CHUNK)] * 100
    waited = 0.0
    clock = time.perf_counter()
    for frame in frames:  # in real time, as a microphone sends them
        frame_start = time.perf_counter()
        await voice.feed(frame)
        if finals:
            waited = time.perf_counter() - frame_start
            break
        clock += 0.02
        await asyncio.sleep(max(0.0, clock - time.perf_counter()))
    await voice.close()
    return (finals[0] if finals else ""), waited


async def _interim_cpu(engine: STT, pcm: bytes) -> float:
    """CPU seconds per second of audio that interim decodes add (whisper only)."""
    interim_s = getattr(engine, "interim_s", None)
    if interim_s is None:
        return 0.0

    async def decode(interims: float) -> float:
        setattr(engine, "interim_s", interims)  # noqa: B010 - optional attribute
        cpu = time.process_time()
        stream = engine.stream(sample_rate=RATE)
        for i in range(0, len(pcm), CHUNK):
            await stream.feed(pcm[i : i + CHUNK])
            await stream.settle()  # type: ignore[attr-defined]
        await stream.finish()
        return time.process_time() - cpu

    try:
        extra = await decode(1.0) - await decode(0.0)
    finally:
        setattr(engine, "interim_s", interim_s)  # noqa: B010
    return max(0.0, extra) / (len(pcm) / 2 / RATE)


async def _engine(
    engine: STT, requests: list[bytes], human: list[tuple[str, bytes, str]], silence_ms: int
) -> dict[str, Any]:
    manual = [await _manual(engine, pcm) for pcm in requests]
    vad = [await _vad(engine, pcm, silence_ms) for pcm in requests]
    heard = [await _manual(engine, pcm) for _, pcm, _ in human]
    interim = [await _interim_cpu(engine, pcm) for pcm in requests[:4]]
    manual_ms = [1000 * s for _, s in manual]
    vad_ms = [1000 * s for _, s in vad]
    return {
        "engine": engine.name,
        "wer_requests": wer([(r, h) for r, (h, _) in zip(REQUESTS, manual, strict=True)]),
        "wer_requests_vad": wer([(r, h) for r, (h, _) in zip(REQUESTS, vad, strict=True)]),
        "wer_human": wer([(ref, h) for (_, _, ref), (h, _) in zip(human, heard, strict=True)])
        if human
        else None,
        "manual_ms_p50": statistics.median(manual_ms),
        "manual_ms_p95": _percentile(manual_ms, 0.95),
        "vad_ms_p50": statistics.median(vad_ms),
        "vad_ms_p95": _percentile(vad_ms, 0.95),
        "interim_cpu_per_s": statistics.mean(interim),
        "transcripts": [h for h, _ in manual],
        "human_transcripts": {name: h for (name, _, _), (h, _) in zip(human, heard, strict=True)},
    }


def run(
    *,
    engines: tuple[str, ...] = ENGINES,
    silence_ms: int = 700,
    json_path: Path | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    requests = speak(REQUESTS)
    human = human_set()
    results = []
    for name in engines:
        engine = build_stt(name)
        warm = getattr(engine, "warm", None)
        if warm is not None:
            warm(1)
        try:
            results.append(asyncio.run(_engine(engine, requests, human, silence_ms)))
        finally:
            close = getattr(engine, "close", None)
            if close is not None:
                close()
    out = {
        "suite": "stt-compare",
        "cpus": os.cpu_count(),
        "requests": len(requests),
        "request_audio_s": sum(len(p) for p in requests) / 2 / RATE,
        "human": [name for name, _, _ in human],
        "silence_ms": silence_ms,
        "engines": results,
    }
    if not quiet:
        Console().print(table(out))
    if json_path:
        write_json(json_path, out)
    return out


def table(out: dict[str, Any]) -> Table:
    t = Table(
        title=f"stt engines: {out['requests']} Piper requests ({out['request_audio_s']:.0f} s), "
        f"human: {', '.join(out['human']) or 'none'}; {out['cpus']} CPUs"
    )
    columns = (
        "engine",
        "WER requests",
        "WER human",
        "manual p50/p95 ms",
        "vad p50/p95 ms",
        "interim CPU s/s",
    )
    for i, name in enumerate(columns):
        t.add_column(name, justify="left" if i == 0 else "right")
    for r in out["engines"]:
        human = "-" if r["wer_human"] is None else f"{100 * r['wer_human']:.1f}%"
        t.add_row(
            r["engine"],
            f"{100 * r['wer_requests']:.1f}%",
            human,
            f"{r['manual_ms_p50']:.0f} / {r['manual_ms_p95']:.0f}",
            f"{r['vad_ms_p50']:.0f} / {r['vad_ms_p95']:.0f}",
            f"{r['interim_cpu_per_s']:.2f}",
        )
    return t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="voicewire bench stt", description=__doc__)
    parser.add_argument("--engines", default=",".join(ENGINES), help="e.g. whisper,pocketsphinx")
    parser.add_argument("--silence-ms", type=int, default=700)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    engines = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    run(engines=engines, silence_ms=args.silence_ms, json_path=args.json)
    return 0
