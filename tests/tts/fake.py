"""A fake voice that notes what it is asked, for tests only (the sibling of tests/stt/fake.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from voicewire.tts.base import SpeechChunk
from voicewire.tts.fake import FakeToneTTS


class RecordingTTS(FakeToneTTS):
    """For tests only: the fake tone voice, noting each text it is asked for (`asked`), each
    synthesis that ends, done or stopped (`ended`), and setting `started` when the first starts."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []
        self.ended: list[str] = []
        self.started = asyncio.Event()

    async def synthesize(
        self, text: str, *, voice: str | None = None, rate: float = 1.0
    ) -> AsyncGenerator[SpeechChunk, None]:
        self.asked.append(text)
        self.started.set()
        try:
            async for chunk in super().synthesize(text, voice=voice, rate=rate):
                yield chunk
        finally:
            self.ended.append(text)
