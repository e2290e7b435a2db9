"""The text side of a turn: the responder's items → `text.delta`, `data`, tool events, segments.

Text is emitted the moment the responder writes it, and fed to the clause splitter; the
segments go to the speaker through a queue that never blocks, so speech never holds text back.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field

from pydantic_core import to_json

from voicewire.llm.base import LLMError
from voicewire.protocol.errors import ErrorCode
from voicewire.protocol.messages import Data, Error, TextDelta
from voicewire.responder import DataItem, Responder, TurnContext
from voicewire.text.segmenter import ClauseSplitter
from voicewire.tools.events import ToolEvent, ToolRun, ToolStarted
from voicewire.turn.base import Emit, Likely, Segments, TurnOptions

log = logging.getLogger(__name__)

Item = str | DataItem | ToolEvent


@dataclass
class Writer:
    """Reads the responder to its end, `max_chars` or a failure, and keeps what was written."""

    turn_id: int
    responder: Responder
    context: TurnContext
    emit: Emit
    options: TurnOptions
    text: str = ""
    data: list[DataItem] = field(default_factory=list)
    tools: list[ToolRun] = field(default_factory=list)  # the tool calls made, in order
    failed: bool = False  # the responder failed or timed out (the turn's status is `failed`)
    sent: int = 0  # chars of the reply handed to `emit`
    ended: bool = False  # no more text will be sent
    _progress: asyncio.Condition = field(default_factory=asyncio.Condition, init=False)

    async def text_sent(self, end: int) -> None:
        """Wait until the reply's text up to char `end` is sent (or the writer has ended)."""
        async with self._progress:
            await self._progress.wait_for(lambda: self.sent >= end or self.ended)

    async def _advance(self, sent: int, *, ended: bool = False) -> None:
        async with self._progress:
            self.sent, self.ended = sent, ended or self.ended
            self._progress.notify_all()

    async def run(self, segments: asyncio.Queue[Segments]) -> None:
        """Write the reply; its segments go into `segments`, then None."""
        opts = self.options
        splitter = ClauseSplitter(
            first_min_words=opts.first_min_words, clause_min_words=opts.clause_min_words
        )
        try:
            async with aclosing(aiter_of(self.responder(self.context))) as items:
                while True:
                    # The bound is on the responder's silences; while a tool of this turn runs,
                    # the tool's own timeout bounds it instead.
                    running = any(run.status == "running" for run in self.tools)
                    try:
                        async with asyncio.timeout(None if running else opts.timeout_s):
                            delta = await anext(items)
                    except StopAsyncIteration:
                        break
                    if isinstance(delta, DataItem):
                        await self._data(delta)
                        continue
                    if isinstance(delta, ToolEvent):
                        # What was written so far is spoken while the tool runs (or after a bridge).
                        for segment in splitter.cut():
                            segments.put_nowait(segment)
                        await self._tool(delta)
                        continue
                    if not delta:
                        continue
                    room = opts.max_chars - len(self.text)
                    delta = delta[:room]
                    self.text += delta
                    # Speech starts on a segment before its text is sent: sending may wait
                    # (the start gate, a full send queue), synthesis need not.
                    for segment in splitter.feed(delta):
                        segments.put_nowait(segment)
                    if opts.voice and (likely := splitter.peek()) is not None:
                        # Synthesis may start before the char that confirms the cut: a token's
                        # wait off the first audio of a sentence the speaker is waiting for.
                        segments.put_nowait(Likely(likely))
                    await self.emit(TextDelta(turn_id=self.turn_id, text=delta))
                    await self._advance(len(self.text))
                    if len(self.text) >= opts.max_chars:
                        await self._error(
                            ErrorCode.REPLY_TOO_LONG, f"the reply was cut at {opts.max_chars} chars"
                        )
                        break
        except (LLMError, TimeoutError) as exc:
            log.warning("turn %d: the responder failed: %r", self.turn_id, exc)
            self.failed = True
            await self._error(ErrorCode.LLM_FAILED, "the language model failed to answer")
        for segment in splitter.flush():
            segments.put_nowait(segment)
        segments.put_nowait(None)
        await self._advance(self.sent, ended=True)

    async def _data(self, item: DataItem) -> None:
        """Send `item` and keep it as plain JSON (as the client gets it, so the stored reply
        replays the same); one JSON cannot encode is the app's error: dropped, and said."""
        try:
            # As the wire encodes it: datetimes as ISO strings, sets as arrays, NaN as null.
            payload = json.loads(to_json(item.payload, inf_nan_mode="null"))
            message = Data(turn_id=self.turn_id, kind=item.kind, payload=payload)
        except ValueError as exc:  # pydantic's errors are ValueErrors
            log.warning("turn %d: data item %r dropped: %s", self.turn_id, item.kind, exc)
            await self._error(
                ErrorCode.UNENCODABLE_DATA,
                f"the app's data item {str(item.kind)[:100]!r} cannot be encoded as JSON",
            )
            return
        self.data.append(DataItem(message.kind, payload))
        await self.emit(message)

    async def _tool(self, event: ToolEvent) -> None:
        if isinstance(event, ToolStarted):
            event.run.at = len(self.text)
            self.tools.append(event.run)
        message = event.message(self.turn_id)
        if message is not None:
            await self.emit(message)

    async def _error(self, code: ErrorCode, message: str) -> None:
        await self.emit(Error(code=code, message=message, turn_id=self.turn_id))


def aiter_of(items: AsyncIterator[Item]) -> AsyncGenerator[Item, None]:
    """The responder's iterator as a generator that can be closed (apps may return either)."""
    if isinstance(items, AsyncGenerator):
        return items

    async def gen() -> AsyncGenerator[Item, None]:
        async for item in items:
            yield item

    return gen()
