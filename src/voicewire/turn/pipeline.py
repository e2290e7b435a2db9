"""`Turn`: one reply, from the responder to audio frames, run as one task group.

A turn has a writer (the text side) and a speaker (the speech side); `run` joins them with
queues and runs the three stages side by side:

    write       responder items → `text.delta` at once, and into the clause splitter
    synthesize  segments → TTS chunks, one segment at a time, in order
    send        chunks → `segment.start`, audio frames, `segment.end`

So text never waits for speech, and the next segment is being synthesized while the previous
one's audio is still being handed to the socket. Cancelling the task that runs `Turn.run`
stops all three at once: the LLM and TTS iterators are closed, which stops their workers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from voicewire.protocol.messages import TurnStatus
from voicewire.responder import DataItem, Responder, TurnContext
from voicewire.tools.events import ToolRun
from voicewire.tts.base import TTS
from voicewire.turn.base import Emit, Segments, TurnOptions
from voicewire.turn.speaker import Chunk, Speaker
from voicewire.turn.writer import Writer


@dataclass
class Turn:
    turn_id: int
    responder: Responder
    context: TurnContext
    tts: TTS
    emit: Emit
    options: TurnOptions = field(default_factory=TurnOptions)
    status: TurnStatus = "complete"
    writer: Writer = field(init=False)
    speaker: Speaker = field(init=False)

    def __post_init__(self) -> None:
        self.writer = Writer(self.turn_id, self.responder, self.context, self.emit, self.options)
        self.speaker = Speaker(self.turn_id, self.tts, self.emit, self.options)
        self.speaker.text_sent = self.writer.text_sent

    @property
    def text(self) -> str:
        """The reply written so far (all of it, heard or not)."""
        return self.writer.text

    @property
    def data(self) -> list[DataItem]:
        return self.writer.data

    @property
    def tools(self) -> list[ToolRun]:
        """The tool calls made, in order."""
        return self.writer.tools

    async def run(self) -> None:
        """Run the turn to its end; `status` and `text` say how it went."""
        segments: asyncio.Queue[Segments] = asyncio.Queue()
        chunks: asyncio.Queue[Chunk | None] = asyncio.Queue(maxsize=8)
        try:
            async with asyncio.TaskGroup() as tg:
                if self.options.voice:
                    tg.create_task(self.speaker.synthesize(segments, chunks))
                    tg.create_task(self.speaker.send(chunks))
                try:
                    await self.writer.run(segments)
                finally:
                    # A responder failure stands even if the turn is then cut short (as
                    # `interrupted`, set below, which wins).
                    if self.writer.failed:
                        self.status = "failed"
        except asyncio.CancelledError:
            self.status = "interrupted"
            raise
