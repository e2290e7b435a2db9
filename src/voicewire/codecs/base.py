"""The encoder contract: one encoder per segment, PCM in, wire payloads out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from voicewire.protocol.messages import Codec


class Encoder(Protocol):
    """Encodes one segment's speech (s16le mono at the TTS rate) for the wire.

    `encode` may return b"" while the codec buffers; `flush` returns the rest at the segment's
    end. `samples` counts the samples, at `sample_rate`, carried by the payloads returned so far
    (after `flush`: the segment's whole length at the output rate).
    """

    codec: Codec
    sample_rate: int
    samples: int

    def encode(self, pcm: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


EncoderFactory = Callable[[], Encoder]
