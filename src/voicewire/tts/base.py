"""The TTS contract: text in, audio chunks with word timings out."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

from voicewire.errors import EngineError
from voicewire.protocol.errors import ErrorCode


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
