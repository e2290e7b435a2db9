"""One connection's microphone: end-of-speech detection and speech-to-text, turned into turns.

Audio goes to the STT stream of the current utterance and to the end-of-speech detector. The
detector says when the user starts speaking (the connection interrupts a running turn: barge-in
by voice) and, in "vad" mode, when they stopped (the utterance ends); in "manual" mode
`input_audio.stop` ends it (push-to-talk). The final transcript becomes a user message.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from voicewire.config import Settings
from voicewire.engines import build_stt
from voicewire.protocol.errors import ErrorCode
from voicewire.protocol.messages import Error, InputAudioStart
from voicewire.stt.base import STT, STTStream
from voicewire.stt.vad import WEBRTC_RATES, EndOfSpeech

log = logging.getLogger(__name__)

OnSpeech = Callable[[str], Awaitable[None]]
OnTranscript = Callable[[str, str, bool], Awaitable[None]]  # utterance id, text, final


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
    ) -> None:
        self.stt = stt
        self.sample_rate = sample_rate
        self.end_by_vad = end_by_vad
        self.on_speech = on_speech
        self.on_transcript = on_transcript
        # webrtcvad takes only its own rates; other rates get the energy detector.
        self.vad = EndOfSpeech(
            sample_rate,
            silence_ms=silence_ms,
            backend="auto" if sample_rate in WEBRTC_RATES else "energy",
        )
        self.stream: STTStream | None = None
        self.utterance = ""
        self.partial = ""

    async def feed(self, pcm: bytes) -> None:
        if self.stream is None:
            self.stream = self.stt.stream(sample_rate=self.sample_rate)
            self.utterance, self.partial = "u-" + uuid.uuid4().hex[:12], ""
        heard = await self.stream.feed(pcm)
        if heard is not None and heard.text and heard.text != self.partial:
            self.partial = heard.text
            await self.on_transcript(self.utterance, heard.text, False)
        for event in self.vad.feed(pcm):
            if event.kind == "speech_started":
                await self.on_speech(self.utterance)
            elif event.kind == "speech_ended" and self.end_by_vad:
                await self.finish()

    async def finish(self) -> None:
        """End the utterance: its final transcript (empty when nothing was said)."""
        stream, self.stream = self.stream, None
        if stream is None:
            return
        final = await stream.finish()
        await self.on_transcript(self.utterance, final.text.strip(), True)

    async def close(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            await stream.aclose()


class LazySTT:
    """The STT engine, loaded when the first microphone opens, not at start-up.

    A pocketsphinx decoder costs ~0.3 s and ~95 MB; most deployments and every text-only test
    never use one. Loading happens once, off the event loop; a failure is logged and that
    session is told speech input is unavailable (`stt_unavailable`).
    """

    def __init__(self, settings: Settings, engine: STT | None = None) -> None:
        self._settings = settings
        self._engine = engine
        self._loaded = engine is not None or settings.stt == "none"
        self._lock = asyncio.Lock()

    async def get(self) -> STT | None:
        async with self._lock:
            if not self._loaded:
                try:
                    self._engine = await asyncio.to_thread(build_stt, self._settings)
                except Exception:
                    log.exception("cannot load the %s speech-to-text engine", self._settings.stt)
                    return None
                self._loaded = True
        return self._engine


class Microphone:
    """One connection's microphone (interim: the microphone branch replaces this)."""

    def __init__(
        self,
        stt: LazySTT,
        settings: Settings,
        *,
        on_speech: OnSpeech,
        on_transcript: OnTranscript,
        on_error: Callable[[Error], Awaitable[None]],
    ) -> None:
        self.stt, self.settings = stt, settings
        self.on_speech, self.on_transcript, self.on_error = on_speech, on_transcript, on_error
        self.voice_reply = True
        self.input: VoiceInput | None = None

    async def start(self, message: InputAudioStart) -> None:
        await self.close()
        stt = await self.stt.get()
        if stt is None:
            await self.on_error(
                Error(code=ErrorCode.STT_UNAVAILABLE, message="this server has no speech input")
            )
            return
        self.voice_reply = message.voice
        self.input = VoiceInput(
            stt,
            sample_rate=message.sample_rate,
            end_by_vad=message.end == "vad",
            on_speech=self.on_speech,
            on_transcript=self.on_transcript,
            silence_ms=self.settings.stt_silence_ms,
        )

    async def feed(self, pcm: bytes) -> None:
        if self.input is not None:
            await self.input.feed(pcm)

    async def stop(self) -> None:
        voice_input, self.input = self.input, None
        if voice_input is not None:
            await voice_input.finish()

    async def close(self) -> None:
        voice_input, self.input = self.input, None
        if voice_input is not None:
            await voice_input.close()
