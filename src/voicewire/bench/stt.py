"""`python -m voicewire.bench stt --rtf`: how fast PocketSphinx decodes, alone and N streams at
once. (`voicewire bench stt` without `--rtf` compares the engines: bench/stt_compare.py.)

Each stream is fed the same utterance in 20 ms pieces, as a microphone sends it, but as fast as
the decoder takes them (not paced): the time it takes, over the audio's duration, is the
real-time factor (RTF) of one stream while N decode at once. RTF < 1 keeps up with a speaker;
N / RTF is how many real-time microphones this machine could decode at that load (what a cap on
concurrent decoders should be sized from). The first level also shows the cost of loading a
decoder (once per stream beyond the engine's idle ones).

Timings are measured here, never asserted in tests (they were: "RTF < 1" in the STT tests).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from voicewire.bench import write_json
from voicewire.codecs.resample import StreamResampler, frames_to_pcm

RATE = 16000
CHUNK = 640  # 20 ms at 16 kHz
QUESTION = "what is the weather in Paris tomorrow"
SWEEP = (1, 2, 4)


def spoken_question() -> tuple[bytes, int]:
    """Piper's joe voice saying QUESTION: pcm16 at the voice's rate, and that rate.

    Without the voice's random noise: the same audio every run, so what the recognizer hears
    (and any result or test that checks it) does not change from run to run.
    """
    try:
        from voicewire.tts.piper import PiperTTS
    except ImportError as exc:  # the piper extra is not installed
        raise SystemExit(f"{exc}; install voicewire[piper], or pass --wav FILE") from None

    async def speak() -> tuple[bytes, int]:
        tts = PiperTTS()
        tts.noise_scale = tts.noise_w = 0.0
        try:
            return b"".join([c.pcm async for c in tts.synthesize(QUESTION)]), tts.sample_rate
        finally:
            tts.close()

    return asyncio.run(speak())


def question_pcm() -> bytes:
    """`spoken_question` at 16 kHz, with 0.5 s of silence on each side."""
    pcm, rate = spoken_question()
    return _pad(_resample(pcm, rate))


def wav_pcm(path: Path) -> bytes:
    """A mono 16-bit WAV file, at 16 kHz."""
    with wave.open(str(path), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise SystemExit(f"{path}: expected mono 16-bit PCM")
        return _resample(w.readframes(w.getnframes()), w.getframerate())


def _resample(pcm: bytes, rate: int) -> bytes:
    if rate == RATE:
        return pcm
    resampler = StreamResampler(rate, RATE)
    return frames_to_pcm(resampler.push(pcm) + resampler.flush())


def _pad(pcm: bytes) -> bytes:
    silence = bytes(2 * RATE // 2)
    return silence + pcm + silence


async def _decode(engine: Any, pcm: bytes) -> tuple[float, float, str]:
    """(s to the first piece's answer, s to the final transcript, the transcript)."""
    started = time.perf_counter()
    stream = engine.stream(sample_rate=RATE)
    first = None
    for i in range(0, len(pcm), CHUNK):
        await stream.feed(pcm[i : i + CHUNK])
        if first is None:
            first = time.perf_counter() - started
    final = await stream.finish()
    return first or 0.0, time.perf_counter() - started, final.text


async def _level(engine: Any, pcm: bytes, streams: int) -> dict[str, Any]:
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    results = await asyncio.gather(*(_decode(engine, pcm) for _ in range(streams)))
    wall = time.perf_counter() - t0
    audio_s = len(pcm) / 2 / RATE
    rtf = max(total for _, total, _ in results) / audio_s
    return {
        "streams": streams,
        "audio_s": audio_s,
        "wall_s": wall,
        "rtf": rtf,  # of the slowest stream
        "realtime_streams": streams / rtf,
        "first_piece_ms_max": max(first for first, _, _ in results) * 1000,
        "cpu_pct": 100 * (time.process_time() - cpu0) / wall,
        "transcripts": sorted({text for _, _, text in results}),
    }


def run(
    *,
    streams: Sequence[int] = SWEEP,
    pcm: bytes | None = None,
    json_path: Path | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    from voicewire.stt.pocketsphinx import PocketsphinxSTT

    audio = question_pcm() if pcm is None else pcm
    engine = PocketsphinxSTT(workers=max(streams, default=1), keep=max(streams, default=1))
    try:
        # The first level loads its decoders (cold); the same level again reuses them (warm).
        cold = asyncio.run(_level(engine, audio, streams[0]))
        levels = [asyncio.run(_level(engine, audio, n)) for n in streams]
    finally:
        engine.close()
    out = {
        "suite": "stt",
        "engine": "pocketsphinx",
        "cpus": os.cpu_count(),
        "cold": cold,
        "levels": levels,
    }
    if not quiet:
        Console().print(table(out))
    if json_path:
        write_json(json_path, out)
    return out


def table(out: dict[str, Any]) -> Table:
    t = Table(
        title=f"stt: pocketsphinx, one {out['levels'][0]['audio_s']:.1f} s utterance per stream, "
        f"fed in 20 ms pieces, {out['cpus']} CPUs"
    )
    for name in ("streams", "RTF (slowest)", "real-time streams", "first piece ms", "CPU %"):
        t.add_column(name, justify="right")
    rows = [("cold " + str(out["cold"]["streams"]), out["cold"])]
    rows += [(str(lv["streams"]), lv) for lv in out["levels"]]
    for label, lv in rows:
        t.add_row(
            label,
            f"{lv['rtf']:.3f}",
            f"{lv['realtime_streams']:.1f}",
            f"{lv['first_piece_ms_max']:.0f}",
            f"{lv['cpu_pct']:.0f}",
        )
    return t


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--rtf" not in argv:
        from voicewire.bench.stt_compare import main as compare

        return compare(argv)
    argv.remove("--rtf")
    parser = argparse.ArgumentParser(prog="voicewire bench stt --rtf", description=__doc__)
    parser.add_argument("--streams", default=",".join(map(str, SWEEP)), help="e.g. 1,2,4")
    parser.add_argument("--wav", type=Path, default=None, help="a mono 16-bit WAV to decode")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    run(
        streams=[int(n) for n in args.streams.split(",") if n.strip()],
        pcm=wav_pcm(args.wav) if args.wav else None,
        json_path=args.json,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
