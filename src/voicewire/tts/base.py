"""The TTS contract: text in, audio chunks with word timings out."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from voicewire.errors import EngineError
from voicewire.protocol.errors import ErrorCode
from voicewire.scheduling import DeadlineScheduler


@dataclass(frozen=True, slots=True)
class WordSpan:
    """Where word number `index` of `text.split()` is heard, in samples from the start."""

    index: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class SpeechChunk:
    """A piece of synthesized speech: 16-bit little-endian mono PCM at the engine's rate.

    `words` holds the timings of the words whose audio starts in this chunk, with sample
    offsets counted from the start of the whole synthesis (not of this chunk). Engines that
    cannot time words leave it empty and the turn engine estimates timings.
    """

    pcm: bytes
    words: tuple[WordSpan, ...] = ()


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    """A voice an engine offers: its name, language (BCP 47-ish, e.g. "en-US") and native rate."""

    name: str
    sample_rate: int
    language: str | None = None


class TTSError(EngineError, RuntimeError, code=ErrorCode.TTS_FAILED):
    """The engine failed to synthesize."""


class TTS(Protocol):
    name: str
    sample_rate: int
    voices: tuple[str, ...]

    def synthesize(
        self, text: str, *, voice: str | None = None, rate: float = 1.0
    ) -> AsyncGenerator[SpeechChunk, None]:
        """Speak `text`; `rate` > 1 speaks faster. Stops promptly when the iterator is closed."""
        ...


@runtime_checkable
class MeasuredCapacity(Protocol):
    """An engine that measures its synthesis capacity (Piper: its worker pool). Optional: an
    engine without it (a remote TTS, the fake one) has no capacity, and every turn is spoken."""

    @property
    def capacity(self) -> float | None:
        """Seconds of speech per second with every worker busy; None: not measured yet."""
        ...


@runtime_checkable
class Scheduled(Protocol):
    """An engine whose synthesis jobs queue on a deadline scheduler (Piper's worker pool, shared
    by its voices). Optional: the metrics show that queue when the engine has one."""

    @property
    def scheduler(self) -> DeadlineScheduler:
        """The worker pool its synthesis jobs wait in."""
        ...


def voice_catalog(tts: TTS) -> tuple[VoiceInfo, ...]:
    """The voices `tts` offers now, with their rates: its `catalog()` when it has several voices
    of their own rates (the Piper voices directory), else every voice at the engine's rate."""
    catalog = getattr(tts, "catalog", None)
    if callable(catalog):
        return tuple(catalog())
    return tuple(VoiceInfo(name, tts.sample_rate) for name in tts.voices)


def voice_rate(tts: TTS, voice: str | None) -> int:
    """The native sample rate of `voice` (None: the engine's default voice)."""
    for info in voice_catalog(tts):
        if info.name == voice:
            return info.sample_rate
    return tts.sample_rate
