"""The STT contract: one utterance of microphone PCM in, partial and final transcripts out.

Audio is 16-bit little-endian mono PCM at the rate declared when the stream is opened; engines
resample it to their own `sample_rate` themselves, so callers never need to know it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from voicewire.errors import EngineError
from voicewire.protocol.errors import ErrorCode

MIN_RATE = 8000
MAX_RATE = 48000


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    final: bool


class STTError(EngineError, RuntimeError, code=ErrorCode.STT_UNAVAILABLE):
    """The engine failed to transcribe; the message is safe to log (no credentials)."""


class STTStream(Protocol):
    """One utterance. Calls must not overlap; after `finish` or `aclose` the stream is spent."""

    async def feed(self, pcm: bytes) -> Transcript | None:
        """Take more audio; return a partial transcript when it has changed, else None."""
        ...

    async def finish(self) -> Transcript:
        """The audio is complete: return the final transcript (empty text if nothing heard)."""
        ...

    async def aclose(self) -> None:
        """Abandon the utterance and free its resources; safe to call more than once."""
        ...


class STT(Protocol):
    name: str
    sample_rate: int

    def stream(self, *, sample_rate: int) -> STTStream:
        """Open an utterance of PCM at `sample_rate` Hz (MIN_RATE..MAX_RATE, else STTError)."""
        ...


def check_rate(sample_rate: int) -> int:
    if not MIN_RATE <= sample_rate <= MAX_RATE:
        raise STTError(f"sample rate must be {MIN_RATE}..{MAX_RATE} Hz, got {sample_rate}")
    return sample_rate
