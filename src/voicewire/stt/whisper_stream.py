"""One utterance for WhisperSTT: its audio kept at 16 kHz, decoded whole in the engine's pool.

- **Interim transcripts.** After each `interim_s` of new audio, if this stream has no decode in
  flight and a worker of the pool is free, the utterance so far is decoded in the background;
  the next `feed` returns its text. Under load interims are skipped, never queued.
- **Speculation at a pause** (`pause`, a hint from the end-of-speech detector). When the voice
  pauses, the utterance so far is decoded at once. If the voice does not come back before the
  utterance ends, that decode *is* the final transcript: the audio after it is the pause, which
  would only be trimmed. So in `end: "vad"` mode the final is ready when the silence window
  closes instead of one decode later. (Only that mode gives the hint: in push-to-talk the
  audio after a pause may hold speech the detector missed, so the final decodes it all.)
  If the voice comes back, the speculation is dropped; if it failed, it is logged once and
  the final decodes the utterance again.
- **Interims only go forward.** A decode's text is taken only if it covers more audio than
  the text taken last (with several workers, an older decode may finish after a newer one).
- **Bounded waits.** A final waits at most `final_wait_s` for the pool, then fails (`STTError`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING

import numpy as np

from voicewire.stt.audio import Resampler
from voicewire.stt.base import STTError, Transcript

if TYPE_CHECKING:
    from voicewire.stt.whisper import WhisperSTT

log = logging.getLogger(__name__)


def _floats(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


class WhisperStream:
    def __init__(self, engine: WhisperSTT, sample_rate: int) -> None:
        self._engine = engine
        self._resampler = Resampler(sample_rate, engine.sample_rate)
        self._audio = bytearray()  # the utterance at 16 kHz, s16le
        self._interim_bytes = int(engine.interim_s * engine.sample_rate) * 2
        self._next_interim = self._interim_bytes
        self._job: Future[str] | None = None  # the interim decode in flight
        self._job_covers = 0  # bytes of audio it decodes
        self._job_started = 0.0
        self._speculation: tuple[int, Future[str]] | None = None  # (bytes covered, decode)
        self._heard = ""  # the newest interim text
        self._heard_covers = 0  # bytes of audio it is the text of
        self._told = ""  # the last one `feed` returned
        self._done = False
        self.decodes = 0  # decodes started, for tests and the benchmark

    @property
    def speculating(self) -> bool:
        return self._speculation is not None

    async def feed(self, pcm: bytes) -> Transcript | None:
        if self._done:
            raise STTError("the utterance is already finished")
        self._audio += self._resampler.push(pcm)
        self._collect()
        if (
            self._interim_bytes
            and len(self._audio) >= self._next_interim
            and self._job is None
            and self._speculation is None
        ):
            self._next_interim = len(self._audio) + self._interim_bytes
            self._job, self._job_covers = self._decode(optional=True), len(self._audio)
            self._job_started = time.monotonic()
        if self._heard and self._heard != self._told:
            self._told = self._heard
            return Transcript(self._heard, final=False)
        return None

    def pause(self, paused: bool) -> None:
        """The voice paused (True) or came back (False): decode now what may be the whole
        utterance, or drop that decode."""
        if self._done:
            return
        old, self._speculation = self._speculation, None
        if old is not None:
            old[1].cancel()  # only if it has not started: a started decode runs to its end
        if paused:
            job = self._decode(optional=False)
            if job is not None:
                self._speculation = (len(self._audio), job)

    async def finish(self) -> Transcript:
        if self._done:
            raise STTError("the utterance is already finished")
        self._done = True
        self._audio += self._resampler.flush()
        self._cancel_interim()
        speculation, self._speculation = self._speculation, None
        job = speculation[1] if speculation is not None else None
        if job is None or job.cancelled():
            job = self._decode(optional=False)
        text = "" if job is None else await self._wait(job)
        return Transcript(text, final=True)

    async def aclose(self) -> None:
        self._done = True
        self._cancel_interim()
        speculation, self._speculation = self._speculation, None
        if speculation is not None:
            speculation[1].cancel()

    async def settle(self) -> None:
        """Wait until the interim decode in flight (if any) is done: for tests and benchmarks,
        which feed audio faster than real time and want what a live speaker would see."""
        job = self._job
        if job is not None:
            await asyncio.wait([asyncio.wrap_future(job)])

    def _decode(self, *, optional: bool) -> Future[str] | None:
        if not self._audio:
            return None
        pool, pcm = self._engine.pool, bytes(self._audio)
        job = pool.try_submit(self._run, pcm) if optional else pool.submit(self._run, pcm)
        if job is not None:
            self.decodes += 1
        return job

    def _run(self, pcm: bytes) -> str:
        """In the pool."""
        return self._engine.transcribe(_floats(pcm))

    def _collect(self) -> None:
        """Take the text of a finished interim or speculative decode as the newest interim."""
        jobs = [(self._job_covers, self._job)]
        if self._speculation is not None:
            jobs.append(self._speculation)
        for covers, job in jobs:
            if job is None or not job.done() or job.cancelled():
                continue
            if job.exception() is not None:
                log.warning("an interim whisper decode failed: %s", job.exception())
                if self._speculation is not None and job is self._speculation[1]:
                    self._speculation = None  # told once; the final decodes the utterance again
            elif job.result() and covers > self._heard_covers:
                # With several workers an older decode may finish after a newer one: the
                # newer text stands, or the interim transcript would step backwards.
                self._heard, self._heard_covers = job.result(), covers
        if self._job is not None and self._job.done():
            # A long utterance makes each interim decode longer: keep them under a third of
            # a worker's time, whatever `interim_s` says.
            took = time.monotonic() - self._job_started
            bytes_per_s = 2 * self._engine.sample_rate
            self._next_interim = max(
                self._next_interim, len(self._audio) + int(2 * took * bytes_per_s)
            )
            self._job = None

    def _cancel_interim(self) -> None:
        job, self._job = self._job, None
        if job is not None:
            job.cancel()

    async def _wait(self, job: Future[str]) -> str:
        wait_s = self._engine.final_wait_s
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(job)), wait_s)
        except TimeoutError:
            job.cancel()
            raise STTError(
                f"speech-to-text is too busy: no transcript within {wait_s:g} s"
            ) from None
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if job.cancelled() and task is not None and not task.cancelling():
                raise STTError("the whisper engine is closed") from None  # not our caller's
            job.cancel()  # our caller went: a decode still queued must not hold a worker
            raise
        except STTError:
            raise
        except Exception as exc:
            raise STTError(f"whisper failed: {type(exc).__name__}: {exc}") from exc
