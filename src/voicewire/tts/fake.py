"""FakeToneTTS — for tests only: speaks every word as a short tone, instantly, with exact timings.

It lets server and client tests check ordering, framing and timing without loading a voice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import numpy as np

from voicewire.tts.base import SpeechChunk, WordSpan


class FakeToneTTS:
    name = "fake"

    def __init__(
        self, *, sample_rate: int = 22050, ms_per_char: float = 60.0, delay_ms: float = 5.0
    ) -> None:
        self.sample_rate = sample_rate
        self.voices: tuple[str, ...] = ("fake-tone",)
        self.ms_per_char = ms_per_char
        self.delay_s = delay_ms / 1000.0

    async def synthesize(
        self, text: str, *, voice: str | None = None, rate: float = 1.0
    ) -> AsyncGenerator[SpeechChunk, None]:
        words = text.split()
        if not words:
            return
        await asyncio.sleep(self.delay_s)
        gap = int(self.sample_rate * 0.04)
        pieces: list[np.ndarray] = []
        spans: list[WordSpan] = []
        pos = 0
        for i, word in enumerate(words):
            n = int(self.sample_rate * self.ms_per_char * len(word) / 1000.0 / rate)
            t = np.arange(n) / self.sample_rate
            pieces.append((0.3 * np.sin(2 * np.pi * (220 + 20 * i) * t) * 32767).astype("<i2"))
            spans.append(WordSpan(i, pos, pos + n))
            pieces.append(np.zeros(gap, dtype="<i2"))
            pos += n + gap
        pcm = np.concatenate(pieces).tobytes()
        # Two chunks, so consumers see a segment that arrives in pieces, as Piper's does.
        half = (len(pcm) // 4) * 2
        yield SpeechChunk(pcm[:half])
        yield SpeechChunk(pcm[half:], tuple(spans))
