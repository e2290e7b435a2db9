"""`voicewire bench vad`: WebRTC's VAD against Silero VAD on the decisions that matter, both
behind the same end-of-speech logic (stt/vad.py: 200 ms of voice starts speech, 700 ms of
silence ends it), on 16 kHz audio made here (seeded: the same every run).

- **false barge-in**: sounds that must not start speech — clicks, coughs (noise bursts of
  0.2–0.4 s with a fast attack), a fan (steady noise), and the bot's own voice leaking into the
  microphone 30 dB and 20 dB under full level. Counted: clips that started speech.
- **cut mid-sentence**: Piper sentences with a 0.4–0.6 s pause inside, over quiet and over
  noisy rooms: utterances ended at the pause. And **missed end**: the end of speech never
  detected within 2 s after the last word (the VAD hears the room as voice).
- **late start**: ms from the first sound of a sentence to `speech_started`, p50 / p95.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any, Literal

import numpy as np
from rich.console import Console
from rich.table import Table

from voicewire.bench import write_json
from voicewire.bench.stt_set import REQUESTS, speak
from voicewire.stt.vad import EndOfSpeech

RATE = 16000
Backend = Literal["webrtc", "silero"]
BACKENDS: tuple[Backend, ...] = ("webrtc", "silero")


def _pcm(x: np.ndarray) -> bytes:
    return bytes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


def _floats(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768


def _room(rng: np.random.Generator, seconds: float, dbfs: float) -> np.ndarray:
    return rng.standard_normal(int(seconds * RATE)) * 10 ** (dbfs / 20)


def _events(backend: Backend, audio: np.ndarray) -> list[Any]:
    vad = EndOfSpeech(RATE, backend=backend)
    pcm = _pcm(audio)
    events = []
    for i in range(0, len(pcm), 640):
        events += vad.feed(pcm[i : i + 640])
    return events


def _noises(rng: np.random.Generator, voices: list[bytes]) -> dict[str, list[np.ndarray]]:
    clips: dict[str, list[np.ndarray]] = {"click": [], "cough": [], "fan": [], "leak -30 dB": []}
    clips["leak -20 dB"] = []
    for _ in range(10):
        room = _room(rng, 2.0, -60)
        click = room.copy()
        for at in rng.uniform(0.2, 1.6, 3):
            start = int(at * RATE)
            click[start : start + 80] += rng.choice([-0.8, 0.8]) * np.exp(-np.arange(80) / 15)
        clips["click"].append(click)
        cough = room.copy()
        n = int(rng.uniform(0.2, 0.4) * RATE)
        burst = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.08 * RATE))
        burst = np.convolve(burst, np.ones(4) / 4, mode="same")  # a little darker than white
        cough[RATE // 2 : RATE // 2 + n] += 0.5 * burst
        clips["cough"].append(cough)
        clips["fan"].append(_room(rng, 2.0, -35) + room)
    for voice in voices[:10]:
        for db in (-30, -20):
            speech = _floats(voice) * 10 ** (db / 20)
            clips[f"leak {db} dB"].append(np.concatenate([_room(rng, 0.3, -60), speech]))
    return clips


def _sentences(rng: np.random.Generator, voices: list[bytes], room_db: float) -> list[Any]:
    """(audio, sentence start s, sentence end s) with a 0.4-0.6 s pause in the middle."""
    out = []
    for voice in voices:
        speech = _floats(voice)
        # Cut where it is quietest in the middle third: between words.
        third = len(speech) // 3
        step = RATE // 100
        mid = speech[third : 2 * third]
        energy = [float(np.mean(mid[i : i + step] ** 2)) for i in range(0, len(mid) - step, step)]
        cut = third + int(np.argmin(energy)) * step
        pause = np.zeros(int(rng.uniform(0.4, 0.6) * RATE))
        body = np.concatenate([speech[:cut], pause, speech[cut:]])
        lead = np.zeros(RATE // 2)
        audio = np.concatenate([lead, body, np.zeros(2 * RATE)])
        audio = audio + _room(rng, len(audio) / RATE, room_db)
        loud = np.flatnonzero(np.abs(body) > 10 ** (-40 / 20))
        start = (len(lead) + (int(loud[0]) if loud.size else 0)) / RATE
        end = (len(lead) + (int(loud[-1]) if loud.size else len(body))) / RATE
        out.append((audio, start, end))
    return out


def run(*, json_path: Path | None = None, quiet: bool = False) -> dict[str, Any]:
    voices = speak(REQUESTS[:12])
    rng = np.random.default_rng(22)
    noises = _noises(rng, voices)
    rooms = {"quiet room": -60.0, "noisy room": -38.0}
    sentences = {name: _sentences(rng, voices, db) for name, db in rooms.items()}
    results: dict[str, Any] = {}
    for backend in BACKENDS:
        r: dict[str, Any] = {"false_barge_in": {}, "cut_mid_sentence": {}, "missed_end": {}}
        for name, clips in noises.items():
            started = [any(e.kind == "speech_started" for e in _events(backend, c)) for c in clips]
            r["false_barge_in"][name] = f"{sum(started)}/{len(clips)}"
        delays = []
        for room, items in sentences.items():
            cut = missed = 0
            for audio, start, end in items:
                events = _events(backend, audio)
                ends = [e.at_ms / 1000 for e in events if e.kind == "speech_ended"]
                starts = [e.at_ms / 1000 for e in events if e.kind == "speech_started"]
                cut += any(t < end for t in ends)
                missed += not any(t >= end for t in ends)
                if starts:
                    delays.append(1000 * (starts[0] - start))
            r["cut_mid_sentence"][room] = f"{cut}/{len(items)}"
            r["missed_end"][room] = f"{missed}/{len(items)}"
        r["start_ms_p50"] = statistics.median(delays) if delays else None
        r["start_ms_p95"] = sorted(delays)[int(0.95 * (len(delays) - 1))] if delays else None
        results[backend] = r
    out = {"suite": "vad", "backends": results, "rooms_dbfs": rooms}
    if not quiet:
        Console().print(table(out))
    if json_path:
        write_json(json_path, out)
    return out


def table(out: dict[str, Any]) -> Table:
    t = Table(title="VAD: clips that went wrong (fewer is better), and speech start delay")
    t.add_column("decision")
    for backend in out["backends"]:
        t.add_column(backend, justify="right")
    first = next(iter(out["backends"].values()))
    for group in ("false_barge_in", "cut_mid_sentence", "missed_end"):
        for case in first[group]:
            cells = [str(r[group][case]) for r in out["backends"].values()]
            t.add_row(f"{group.replace('_', ' ')}: {case}", *cells)
    for key in ("start_ms_p50", "start_ms_p95"):
        cells = [f"{r[key]:.0f}" if r[key] is not None else "-" for r in out["backends"].values()]
        t.add_row(key.replace("_", " "), *cells)
    return t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="voicewire bench vad", description=__doc__)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    run(json_path=args.json)
    return 0
