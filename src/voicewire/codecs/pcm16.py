"""pcm16 at the TTS's own rate: the bytes go out as they are."""

from __future__ import annotations

from voicewire.protocol.messages import Codec


class Pcm16Passthrough:
    codec: Codec = "pcm16"

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.samples = 0

    def encode(self, pcm: bytes) -> bytes:
        self.samples += len(pcm) // 2
        return pcm

    def flush(self) -> bytes:
        return b""
