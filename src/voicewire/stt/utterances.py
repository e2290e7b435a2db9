"""One microphone's utterances: its audio to the STT stream of the current utterance and to
the end-of-speech detector, and what they hear to the caller's callbacks.

The detector says when the user starts speaking (`on_speech`: the connection interrupts a
running turn, barge-in by voice) and, when `end_by_vad`, when they stopped (the utterance
ends); otherwise the caller ends it (`finish`: push-to-talk). A failure of the STT engine is
raised as `UtteranceFailed`, apart from anything the callbacks raise.

Engines that decode whole utterances (Whisper) may take a hint: when `end_by_vad`, a stream
with a `pause(bool)` method is told when the voice has paused for `pause_ms` after speech (and
when it comes back), so it can decode what may be the whole utterance while the silence window
runs out. Not in push-to-talk: there the user, not the detector, says where the utterance
ends, and the final transcript must cover all its audio, also speech too soft for the detector.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Literal

from voicewire.errors import VoicewireError
from voicewire.protocol.errors import ErrorCode
from voicewire.stt import silero
from voicewire.stt.base import STT, STTStream
from voicewire.stt.vad import WEBRTC_RATES, EndOfSpeech, VADEvent

log = logging.getLogger(__name__)

OnSpeech = Callable[[str], Awaitable[None]]
OnTranscript = Callable[[str, str, bool], Awaitable[None]]  # utterance id, text, final


class UtteranceFailed(VoicewireError, code=ErrorCode.STT_FAILED):
    """The STT engine failed on the current utterance (the cause is chained)."""


def end_of_speech(sample_rate: int, silence_ms: int) -> EndOfSpeech:
    """The detector for a microphone: `vad_backend`'s, or WebRTC's if Silero fails to load
    (logged once; Silero is then not tried again in this process)."""
    backend = vad_backend(sample_rate)
    if backend == "silero":
        try:
            return EndOfSpeech(sample_rate, silence_ms=silence_ms, backend="silero")
        except Exception as exc:
            _silero_failed(exc)
            backend = vad_backend(sample_rate)
    return EndOfSpeech(sample_rate, silence_ms=silence_ms, backend=backend)


def _silero_failed(exc: BaseException) -> None:
    log.warning("the Silero VAD failed (%s: %s); using WebRTC's VAD", type(exc).__name__, exc)
    silero.disable(f"{type(exc).__name__}: {exc}")


def vad_backend(sample_rate: int) -> Literal["silero", "auto", "energy"]:
    """Silero VAD at 16 kHz when installed: in `voicewire bench vad` it took no click or cough
    for speech (WebRTC's: 3/10 and 10/10) and cut no sentence at a pause in a noisy room, for
    ~40 ms later starts. Else WebRTC's at its own rates, else the energy detector."""
    if sample_rate == 16000 and silero.available():
        return "silero"
    return "auto" if sample_rate in WEBRTC_RATES else "energy"


class VoiceInput:
    def __init__(
        self,
        stt: STT,
        *,
        sample_rate: int,
        end_by_vad: bool,
        on_speech: OnSpeech,
        on_transcript: OnTranscript,
        silence_ms: int = 700,
        pause_ms: int = 240,
    ) -> None:
        self.stt = stt
        self.sample_rate = sample_rate
        self.end_by_vad = end_by_vad
        self.on_speech = on_speech
        self.on_transcript = on_transcript
        self.vad = end_of_speech(sample_rate, silence_ms)
        self.stream: STTStream | None = None
        self.utterance = ""  # the current utterance's id, or the last one's
        self.ended = True  # its final transcript was sent (or it was dropped)
        self.partial = ""
        self.seconds = 0.0  # audio in the current utterance
        self.pause_ms = pause_ms
        self.vad_event: VADEvent | None = None  # the detector's last decision
        self.vad_ms = 0.0  # audio fed to the detector: its clock (for the event's offsets)
        self._spoke = False  # the detector heard speech in this utterance
        self._paused = False  # what the stream was last told
        self._closes = 0  # calls of `close`, so far
        self._orphans: set[asyncio.Task[None]] = set()  # closing streams nobody else holds

    async def open(self) -> None:
        """Start an utterance, unless one is open. Off the loop: an engine may load a model.
        A stream whose opening outlives its caller (cancelled) or this input (`close` came
        meanwhile) is closed when it is ready: it holds a decoder."""
        if self.stream is not None:
            return
        closes = self._closes
        opening = asyncio.ensure_future(
            asyncio.to_thread(self.stt.stream, sample_rate=self.sample_rate)
        )
        try:
            stream = await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(self._close_orphan)
            raise
        except Exception as exc:
            raise UtteranceFailed(f"cannot open a {self.stt.name} stream") from exc
        if closes != self._closes:  # closed while it opened: nobody will feed it
            await _close_quietly(stream)
            return
        self.stream, self.utterance, self.partial = stream, "u-" + uuid.uuid4().hex[:12], ""
        self.seconds, self.ended = 0.0, False
        self._spoke = self._paused = False

    async def feed(self, pcm: bytes) -> None:
        await self.open()
        if self.stream is None:  # closed while it opened
            return
        self.seconds += len(pcm) / (2 * self.sample_rate)
        try:
            heard = await self.stream.feed(pcm)
        except Exception as exc:
            raise UtteranceFailed(f"{self.stt.name} failed on audio") from exc
        if heard is not None and heard.text and heard.text != self.partial:
            self.partial = heard.text
            await self.on_transcript(self.utterance, heard.text, False)
        for event in self._detect(pcm):
            self.vad_event = event
            if event.kind == "speech_started":
                self._spoke = True
                await self.on_speech(self.utterance)
            elif event.kind == "speech_ended" and self.end_by_vad:
                await self.finish()
        self._hint_pause()

    def _detect(self, pcm: bytes) -> list[VADEvent]:
        try:
            events = self.vad.feed(pcm)
        except Exception as exc:
            if self.vad.backend != "silero":
                raise
            _silero_failed(exc)  # a new detector: the speech in progress is heard anew
            self.vad = end_of_speech(self.sample_rate, self.vad.silence_ms)
            self.vad_ms = 0.0
            events = self.vad.feed(pcm)
        self.vad_ms += len(pcm) * 500 / self.sample_rate
        return events

    def _hint_pause(self) -> None:
        pause: Callable[[bool], None] | None = getattr(self.stream, "pause", None)
        if pause is None or not self._spoke or not self.end_by_vad:
            return
        paused = self.vad.quiet_ms >= self.pause_ms
        if paused != self._paused:
            self._paused = paused
            pause(paused)

    async def finish(self) -> None:
        """End the utterance: its final transcript (empty when nothing was said)."""
        stream, self.stream = self.stream, None
        if stream is None:
            return
        try:
            final = await stream.finish()
        except Exception as exc:
            with contextlib.suppress(Exception):
                await stream.aclose()
            raise UtteranceFailed(f"{self.stt.name} failed on the end of an utterance") from exc
        self.ended = True
        await self.on_transcript(self.utterance, final.text.strip(), True)

    async def close(self) -> None:
        """Drop the utterance in progress (no final transcript) and free its stream."""
        stream, self.stream = self.stream, None
        self.ended = True
        self._closes += 1
        if stream is not None:
            await stream.aclose()

    def _close_orphan(self, opening: asyncio.Future[STTStream]) -> None:
        if opening.cancelled() or opening.exception() is not None:
            return
        task = asyncio.ensure_future(_close_quietly(opening.result()))
        self._orphans.add(task)
        task.add_done_callback(self._orphans.discard)


async def _close_quietly(stream: STTStream) -> None:
    try:
        await stream.aclose()
    except Exception:
        log.warning("cannot close a %s stream", type(stream).__name__, exc_info=True)
