"""A segment's synthesis started before the segment is certain (see `turn.base.Likely`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from voicewire.text.segmenter import Segment
from voicewire.tts.base import SpeechChunk

log = logging.getLogger(__name__)


@dataclass
class Early:
    """A segment's synthesis, started with its first piece under way."""

    segment: Segment
    speech: AsyncGenerator[SpeechChunk, None]
    first: asyncio.Future[SpeechChunk | None]

    async def pieces(self) -> AsyncGenerator[SpeechChunk, None]:
        try:
            if (piece := await self.first) is None:
                return
            yield piece
            async for piece in self.speech:
                yield piece
        finally:
            await drop(self)


async def drop(early: Early | None) -> None:
    """Stop `early`'s synthesis (its queued piece is not run) and wait for it to stop."""
    if early is None:
        return
    early.first.cancel()
    await asyncio.wait([early.first])
    if not early.first.cancelled() and (exc := early.first.exception()) is not None:
        # A failure of work nobody will hear is no news (a kept segment's would be reported).
        log.debug("early synthesis of segment %d failed: %r", early.segment.index, exc)
    await early.speech.aclose()
