"""One connection's microphone: speech-to-text and end-of-speech detection, turned into turns.

`Microphone` is what a connection uses; it bounds what speech input may cost (PROTOCOL.md,
microphone): a process-wide cap on STT streams (`LazySTT.slots`), an audio budget per
connection, a maximum utterance length. Whatever the STT engine does, the session goes on: a
failure is an `error` event and ends that utterance. Inside it, `VoiceInput`
(stt/utterances.py) is one `input_audio.start`'s stream of utterances.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from voicewire.config import Settings
from voicewire.engines import build_stt
from voicewire.errors import VoicewireError
from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.messages import Error, InputAudioStart
from voicewire.stt import silero
from voicewire.stt.base import STT
from voicewire.stt.limits import AudioBudget, Slot, StreamSlots, Verdict
from voicewire.stt.utterances import OnSpeech, OnTranscript, UtteranceFailed, VoiceInput

__all__ = [
    "AudioFlood",
    "LazySTT",
    "Microphone",
    "OnError",
    "OnSpeech",
    "OnTranscript",
    "UtteranceFailed",
    "VoiceInput",
]

log = logging.getLogger(__name__)

OnError = Callable[[Error], Awaitable[None]]


class AudioFlood(VoicewireError, code=ErrorCode.RATE_LIMITED, close_code=CloseCode.RATE_LIMITED):
    """Microphone audio far over the connection's budget: close it, as for any flood."""


class Microphone:
    """One connection's microphone, from `input_audio.start` to `.stop` (or the end).

    One per connection: its audio budget spans every `start`. Calls come one at a time, in the
    order of the client's frames; `close` may come at any time. A slot of `LazySTT.slots` is
    held while the microphone is on: the decoder it pays for goes from one utterance to the
    next. Errors go to `on_error`, at most one per code and utterance (a microphone sends 50
    frames a second); only `AudioFlood` is raised, by `feed`.
    """

    def __init__(
        self,
        stt: LazySTT,
        settings: Settings,
        *,
        on_speech: OnSpeech,
        on_transcript: OnTranscript,
        on_error: OnError,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.voice_reply = True
        self._stt = stt
        self._settings = settings
        self._on_speech = on_speech
        self._on_transcript = on_transcript
        self._on_error = on_error
        self._budget = AudioBudget(
            burst_s=settings.stt_audio_burst_s,
            rate=settings.stt_audio_rate,
            flood_s=settings.stt_audio_flood_s,
            clock=clock,
        )
        self._max_utterance_s = settings.stt_max_utterance_s
        self._rate = 16000  # of the last input_audio.start, for the budget even if refused
        self._input: VoiceInput | None = None  # the microphone is on
        self._slot: Slot | None = None
        self._told: set[str] = set()  # error codes sent about the utterance `_told_about`
        self._told_about = ""

    async def start(self, message: InputAudioStart) -> None:
        """The microphone is on; `stt_unavailable` or `stt_busy` when it cannot be."""
        voice, self._input = self._input, None
        if voice is not None:  # a restart drops the utterance in progress
            with contextlib.suppress(Exception):
                await voice.close()
        self.voice_reply, self._rate = message.voice, message.sample_rate
        self._told.clear()
        engine = await self._stt.get()
        if engine is None:
            await self._close_input(None)
            why = "failed to load" if self._stt.failed else "is not enabled"
            await self._error(ErrorCode.STT_UNAVAILABLE, f"this server's speech input {why}")
            return
        if self._slot is None:  # a restart keeps its slot: nobody may take it in between
            self._slot = self._stt.slots.acquire()
        if self._slot is None:
            await self._error(
                ErrorCode.STT_BUSY,
                f"the server is transcribing {self._stt.slots.limit} microphones already; "
                "send input_audio.start again later",
            )
            return
        self._input = VoiceInput(
            engine,
            sample_rate=message.sample_rate,
            end_by_vad=message.end == "vad",
            on_speech=self._on_speech,
            on_transcript=self._on_transcript,
            silence_ms=self._settings.stt_silence_ms,
        )
        await self._guard(self._input.open())

    async def feed(self, pcm: bytes) -> None:
        """A microphone frame: decoded if the microphone is on and the budget allows it."""
        seconds = len(pcm) / (2 * self._rate)
        verdict = self._budget.charge(seconds)
        if verdict is Verdict.FLOOD:
            raise AudioFlood(f"microphone audio far faster than real time (×{self._budget.rate:g})")
        voice = self._input
        if voice is None:
            await self._error(
                ErrorCode.MICROPHONE_OFF,
                "microphone audio while speech input is off: it is dropped",
                once=True,
            )
        elif verdict is Verdict.DROP:
            await self._error(
                ErrorCode.RATE_LIMITED,
                "microphone audio faster than real time: the excess is dropped",
                once=True,
            )
        elif (voice.seconds if voice.stream else 0.0) + seconds > self._max_utterance_s:
            await self._end_failed(f"an utterance may last {self._max_utterance_s:g} s at most")
        else:
            await self._guard(voice.feed(pcm))

    def vad_ago_ms(self, kind: str) -> int | None:
        """How long before the end of the audio fed so far the detector's last event, if of
        `kind`, placed its edge: where speech began (`speech_started`), or the point it
        decided speech had ended (`speech_ended`, the silence window included)."""
        voice = self._input
        event = voice.vad_event if voice is not None else None
        if voice is None or event is None or event.kind != kind:
            return None
        edge = event.edge_ms if kind == "speech_started" else event.at_ms
        return max(0, round(voice.vad_ms) - edge)

    async def stop(self) -> None:
        """The microphone is off: the utterance in progress ends with its final transcript."""
        voice = self._input
        try:
            if voice is not None:
                await self._guard(voice.finish())
        finally:
            self._input = None
            self._told.clear()
            await self._close_input(voice)

    async def close(self) -> None:
        """The connection ends: the utterance is dropped; stream and slot are given back."""
        voice, self._input = self._input, None
        await self._close_input(voice)

    async def _guard(self, step: Awaitable[None]) -> None:
        """Run an STT step; if the engine fails, the utterance ends and the session goes on."""
        try:
            await step
        except UtteranceFailed as exc:
            log.warning("speech-to-text failed: %s", exc, exc_info=exc.__cause__)
            await self._end_failed("speech-to-text failed; the utterance was dropped")

    async def _end_failed(self, message: str) -> None:
        """The utterance ends with `stt_failed` and an empty final transcript."""
        voice = self._input
        if voice is None:
            return
        pending = voice.utterance if not voice.ended else ""
        with contextlib.suppress(Exception):
            await voice.close()
        await self._error(ErrorCode.STT_FAILED, message)
        if pending:
            # The client may have a partial transcript on screen: every utterance ends.
            voice.ended = True
            await self._on_transcript(pending, "", True)

    async def _close_input(self, voice: VoiceInput | None) -> None:
        slot, self._slot = self._slot, None
        try:
            if voice is not None:
                with contextlib.suppress(Exception):
                    await voice.close()
        finally:
            if slot is not None:
                slot.release()

    async def _error(self, code: ErrorCode, message: str, *, once: bool = False) -> None:
        about = self._input.utterance if self._input is not None else ""
        if about != self._told_about:
            self._told, self._told_about = set(), about
        if once and code in self._told:
            return
        self._told.add(code)
        await self._on_error(Error(code=code, message=message))


class LazySTT:
    """The STT engine, loaded when the first microphone opens, not at start-up, and the
    process-wide cap on its streams (`slots`, `max_stt_streams`).

    A pocketsphinx decoder costs ~92 MB and 0.3-1.7 s to make; most deployments and every
    text-only test never use one. Loading happens once, in a thread; a failure is logged and
    every session is told speech input is unavailable (`stt_unavailable`): it is not built
    again, by every microphone's start, until the server restarts (a missing package or a
    broken model does not mend itself, and each try costs seconds). A thread does not
    spare the event loop that wait, though: PocketSphinx holds the GIL while it builds a
    decoder. So decoders are pooled (`keep=max_stt_streams`): a process makes at most that many.
    """

    def __init__(self, settings: Settings, engine: STT | None = None) -> None:
        self._settings = settings
        self._engine = engine
        self._loaded = engine is not None or settings.stt == "none"
        self.failed = False  # the engine failed to build: it is not tried again
        self._vad_loaded = False
        self._lock = asyncio.Lock()
        self.slots = StreamSlots(settings.max_stt_streams)

    async def preload(self) -> None:
        """Load the engine and make its `max_stt_streams` decoders now (for `stt_preload`: call
        it at start-up, before serving), so that none is made while sessions wait on the loop."""
        engine = await self.get()
        warm: Callable[[int], None] | None = getattr(engine, "warm", None)
        if warm is not None:
            await asyncio.to_thread(warm, self.slots.limit)

    async def get(self) -> STT | None:
        async with self._lock:
            if not self._loaded:
                try:
                    self._engine = await asyncio.to_thread(build_stt, self._settings)
                except Exception:
                    log.exception(
                        "cannot load the %s speech-to-text engine; speech input is off until "
                        "the server restarts",
                        self._settings.stt,
                    )
                    self.failed = True
                self._loaded = True
            if self._engine is not None and not self._vad_loaded:
                # Silero's ONNX session too, now (an engine handed in as well): each
                # microphone's VAD is made on the loop.
                try:
                    if silero.available():
                        await asyncio.to_thread(silero.load)
                except Exception as exc:  # speech input goes on, with WebRTC's VAD
                    log.warning("cannot load the Silero VAD model; using WebRTC's", exc_info=True)
                    silero.disable(f"{type(exc).__name__}: {exc}")
                self._vad_loaded = True
        return self._engine
