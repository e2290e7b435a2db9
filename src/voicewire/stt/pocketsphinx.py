"""PocketsphinxSTT — the default, offline engine: CMU PocketSphinx and the en-us model it ships.

A decoder loads the acoustic model, dictionary and language model when it is created: about
300 ms and 95 MB each, measured here. So decoders are pooled per engine and reused across
utterances; a stream takes one on its first audio and gives it back when it ends.

Decoding runs on a small thread pool of its own, not on the TTS deadline scheduler: every STT
job is due now (the user is talking) and is small, so a deadline order would buy nothing.
PocketSphinx holds the GIL while it decodes, so audio goes in as ≤30 ms pieces (~4 ms of work
each) and the event loop gets a turn in between. `end_utt` (the second and third search passes)
takes ~70 ms in one go; pass `fwdflat=False, bestpath=False` to cut that to a few ms at some
cost in accuracy.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from voicewire.stt.audio import Resampler
from voicewire.stt.base import STTError, Transcript, check_rate

# No stubs: through import_module mypy sees a plain module, with no per-line ignores to rot.
_ps = importlib.import_module("pocketsphinx")

T = TypeVar("T")
_PIECE = 960  # bytes: 30 ms at 16 kHz


class PocketsphinxSTT:
    name = "pocketsphinx"
    sample_rate = 16000

    def __init__(self, *, workers: int | None = None, keep: int = 2, **options: Any) -> None:
        """`keep` idle decoders stay loaded; `options` are PocketSphinx config parameters."""
        # FATAL: an utterance with no speech logs "Couldn't find <s>" at ERROR level, per call.
        self._options: dict[str, Any] = {"loglevel": "FATAL", **options}
        self._keep = keep
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False
        self.created = 0  # decoders made so far, for tests and metrics
        first = self._new()
        self._cmn: str = first.get_cmn(False)
        self._idle.append(first)
        count = workers or min(4, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(count, thread_name_prefix="pocketsphinx")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            self._closed = True
            self._idle.clear()

    def stream(self, *, sample_rate: int) -> _Stream:
        return _Stream(self, check_rate(sample_rate))

    def warm(self, count: int) -> None:
        """Make decoders until `count` (at most `keep`) are idle. Blocking: call it in a thread,
        before serving, since PocketSphinx holds the GIL while it builds one."""
        while True:
            with self._lock:
                if self._closed or len(self._idle) >= min(count, self._keep):
                    return
            decoder = self._new()
            with self._lock:
                self._idle.append(decoder)

    def _new(self) -> Any:
        try:
            decoder = _ps.Decoder(**self._options)
        except Exception as exc:
            raise STTError(f"cannot load the PocketSphinx model: {exc}") from exc
        self.created += 1
        return decoder

    def _take(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._new()

    def _give(self, decoder: Any) -> None:
        # Live CMN adapts to the last caller's microphone; the next caller starts afresh.
        decoder.set_cmn(self._cmn)
        with self._lock:
            if not self._closed and len(self._idle) < self._keep:
                self._idle.append(decoder)


class _Stream:
    def __init__(self, engine: PocketsphinxSTT, sample_rate: int) -> None:
        self._engine = engine
        self._resampler = Resampler(sample_rate, engine.sample_rate)
        self._decoder: Any = None
        self._order = asyncio.Lock()  # one job at a time, in call order
        self._busy = threading.Lock()  # aclose's release skips the queue; it waits here
        self._spent = False  # set in the pool, under _busy
        self._done = False  # set on the event loop
        self._last = ""

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        await self._order.acquire()
        try:
            future = self._engine._pool.submit(fn, *args)
        except RuntimeError as exc:
            self._order.release()
            raise STTError("the pocketsphinx engine is closed") from exc
        job = asyncio.wrap_future(future)
        # Held until the job is done, not until we stop waiting: a cancelled feed's job still
        # runs (shielded, so its audio is never half-taken) and the next must queue behind it.
        job.add_done_callback(lambda _: self._order.release())
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            # Closing the engine cancels queued jobs: its error, not a cancellation of our
            # caller, which must still propagate as such.
            task = asyncio.current_task()
            if future.cancelled() and task is not None and not task.cancelling():
                raise STTError("the pocketsphinx engine is closed") from None
            raise
        except Exception as exc:
            raise STTError(f"pocketsphinx failed: {type(exc).__name__}: {exc}") from exc

    async def feed(self, pcm: bytes) -> Transcript | None:
        if self._done:
            raise STTError("the utterance is already finished")
        text = await self._run(self._decode, pcm, False)
        if not text or text == self._last:
            return None
        self._last = text
        return Transcript(text, final=False)

    async def finish(self) -> Transcript:
        if self._done:
            raise STTError("the utterance is already finished")
        self._done = True
        text = await self._run(self._decode, b"", True)
        return Transcript(text or "", final=True)

    async def aclose(self) -> None:
        self._done = True
        try:
            await asyncio.wrap_future(self._engine._pool.submit(self._release))
        except RuntimeError:  # the engine is closed: its decoders are gone anyway
            self._decoder = None

    def _decode(self, pcm: bytes, last: bool) -> str | None:
        """In the pool: decode `pcm`; at the `last` call also end the utterance."""
        with self._busy:
            if self._spent:
                return None
            try:
                audio = self._resampler.push(pcm) + (self._resampler.flush() if last else b"")
                if audio and self._decoder is None:
                    self._decoder = self._engine._take()
                    self._decoder.start_utt()
                decoder = self._decoder
                if decoder is None:  # no samples yet (or ever, if `last`)
                    self._spent = last
                    return ""
                for i in range(0, len(audio), _PIECE):
                    decoder.process_raw(audio[i : i + _PIECE], False, False)
                if last:
                    decoder.end_utt()
                hyp = decoder.hyp()
            except BaseException:
                self._decoder = None  # in an unknown state: let it go rather than pool it
                self._spent = True
                raise
            if last:
                self._spent, self._decoder = True, None
                self._engine._give(decoder)
            return "" if hyp is None else str(hyp.hypstr)

    def _release(self) -> None:
        with self._busy:
            self._spent = True
            decoder, self._decoder = self._decoder, None
            if decoder is None:
                return
            try:
                decoder.end_utt()
            except RuntimeError:
                return
            self._engine._give(decoder)
