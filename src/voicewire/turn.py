"""The one module that owns concurrency: a turn's LLM → clause splitter → TTS → audio frames.

Three stages run side by side for each turn, joined by queues:

    write       LLM deltas → `text.delta` at once, and into the clause splitter
    synthesize  segments → TTS chunks, one segment at a time, in order
    send        chunks → `segment.start`, audio frames, `segment.end`

So text never waits for speech, and the next segment is being synthesized while the previous
one's audio is still being handed to the socket. Cancelling the task that runs `Turn.run`
stops all three at once: the LLM and TTS iterators are closed, which stops their workers.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field

from voicewire import scheduling
from voicewire.codecs.base import Encoder, EncoderFactory
from voicewire.codecs.pcm16 import Pcm16Passthrough
from voicewire.llm.base import LLMError
from voicewire.protocol.errors import ErrorCode
from voicewire.protocol.frames import FrameFlags
from voicewire.protocol.messages import (
    Data,
    Error,
    Notice,
    SegmentEnd,
    SegmentStart,
    TextDelta,
    ToolCall,
    ToolResult,
    TurnStatus,
    WordTiming,
)
from voicewire.responder import DataItem, Responder, TurnContext
from voicewire.text.segmenter import ClauseSplitter, Segment
from voicewire.tools.events import ToolEvent, ToolRun, ToolStarted
from voicewire.tts.base import TTS, SpeechChunk, TTSError, WordSpan

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AudioOut:
    """Audio to be framed by the Session (which stamps `seq`)."""

    turn_id: int
    segment_id: int
    payload: bytes
    sample_offset: int
    flags: FrameFlags


Outgoing = (
    TextDelta | Data | SegmentStart | SegmentEnd | Error | AudioOut | Notice | ToolCall | ToolResult
)
Emit = Callable[[Outgoing], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SpokenSegment:
    """Where a segment sits on the turn's audio timeline (for truncating to what was heard)."""

    segment: Segment
    start_ms: float
    duration_ms: float
    words: tuple[WordTiming, ...]


@dataclass(frozen=True, slots=True)
class TurnOptions:
    """A turn's settings, captured when it starts (a session.update applies from the next)."""

    voice: bool = True
    voice_name: str | None = None
    rate: float = 1.0
    frame_ms: int = 200
    # One encoder per segment; default: pcm16 at the TTS's rate.
    encoder: EncoderFactory | None = None
    max_chars: int = 8000  # the reply is cut here (error `reply_too_long`)
    timeout_s: float = 30.0  # for the responder's first item and between items
    first_min_words: int = 1  # "Sure," may be the first thing said
    clause_min_words: int | None = 6  # later segments may end at a clause of 6+ words
    sample_rate: int | None = None  # the voice's own rate (None: the engine's `sample_rate`)


_Chunk = tuple[Segment, SpeechChunk | None]  # None: the segment's audio is complete


@dataclass
class Turn:
    turn_id: int
    responder: Responder
    context: TurnContext
    tts: TTS
    emit: Emit
    options: TurnOptions = field(default_factory=TurnOptions)
    text: str = ""
    data: list[DataItem] = field(default_factory=list)
    tools: list[ToolRun] = field(default_factory=list)  # the tool calls made, in order
    status: TurnStatus = "complete"
    spoken: list[SpokenSegment] = field(default_factory=list)
    audio_ms: float = 0.0
    # The segment whose audio is being sent, and the word spans the TTS gave for it so far:
    # a cancel can cut it mid-way, and its words already played were heard.
    speaking: tuple[Segment, list[WordSpan]] | None = None

    async def run(self) -> None:
        """Run the turn to its end; `status` and `text` say how it went."""
        segments: asyncio.Queue[Segment | None] = asyncio.Queue()
        chunks: asyncio.Queue[_Chunk | None] = asyncio.Queue(maxsize=8)
        try:
            async with asyncio.TaskGroup() as tg:
                if self.options.voice:
                    tg.create_task(self._synthesize(segments, chunks))
                    tg.create_task(self._send(chunks))
                await self._write(segments)
        except asyncio.CancelledError:
            self.status = "interrupted"
            raise

    async def _write(self, segments: asyncio.Queue[Segment | None]) -> None:
        opts = self.options
        splitter = ClauseSplitter(
            first_min_words=opts.first_min_words, clause_min_words=opts.clause_min_words
        )
        try:
            async with aclosing(aiter_of(self.responder(self.context))) as items:
                while True:
                    try:
                        async with asyncio.timeout(opts.timeout_s):
                            delta = await anext(items)
                    except StopAsyncIteration:
                        break
                    if isinstance(delta, DataItem):
                        self.data.append(delta)
                        await self.emit(
                            Data(turn_id=self.turn_id, kind=delta.kind, payload=delta.payload)
                        )
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
                    await self.emit(TextDelta(turn_id=self.turn_id, text=delta))
                    for segment in splitter.feed(delta):
                        segments.put_nowait(segment)
                    if len(self.text) >= opts.max_chars:
                        await self._error(
                            ErrorCode.REPLY_TOO_LONG, f"the reply was cut at {opts.max_chars} chars"
                        )
                        break
        except (LLMError, TimeoutError) as exc:
            log.warning("turn %d: the responder failed: %r", self.turn_id, exc)
            self.status = "failed"
            await self._error(ErrorCode.LLM_FAILED, "the language model failed to answer")
        for segment in splitter.flush():
            segments.put_nowait(segment)
        segments.put_nowait(None)

    async def _tool(self, event: ToolEvent) -> None:
        if isinstance(event, ToolStarted):
            event.run.at = len(self.text)
            self.tools.append(event.run)
        message = event.message(self.turn_id)
        if message is not None:
            await self.emit(message)

    async def _error(self, code: ErrorCode, message: str) -> None:
        await self.emit(Error(code=code, message=message, turn_id=self.turn_id))

    async def _synthesize(
        self, segments: asyncio.Queue[Segment | None], chunks: asyncio.Queue[_Chunk | None]
    ) -> None:
        opts = self.options
        clock = time.monotonic  # the scheduler's clock (uvloop's loop.time() is another one)
        failed = False
        play_start: float | None = None  # when the client starts playing (~ first audio)
        queued_s = 0.0  # audio produced so far
        while (segment := await segments.get()) is not None:
            if failed or not segment.speech:
                continue
            # Due when the audio already produced will have played out; the turn's first audio
            # goes before every other session's next piece.
            scheduling.deadline.set(-math.inf if play_start is None else play_start + queued_s)
            started = False
            try:
                speech = self.tts.synthesize(segment.speech, voice=opts.voice_name, rate=opts.rate)
                async with aclosing(speech) as pieces:
                    async for piece in pieces:
                        started = True
                        play_start = clock() if play_start is None else play_start
                        queued_s += len(piece.pcm) / 2 / self.sample_rate
                        scheduling.deadline.set(play_start + queued_s)
                        await chunks.put((segment, piece))
            except TTSError as exc:
                # The reply goes on as text; the client is told its speech stopped.
                log.warning("turn %d: TTS failed: %s", self.turn_id, exc)
                failed = True
                await self._error(
                    ErrorCode.TTS_FAILED, "speech synthesis failed; the reply continues as text"
                )
            if started or not failed:  # a segment whose synthesis failed at once is not announced
                await chunks.put((segment, None))
        await chunks.put(None)

    @property
    def sample_rate(self) -> int:
        """The rate of the TTS's audio for this turn (its voice's)."""
        return self.options.sample_rate or self.tts.sample_rate

    async def _send(self, chunks: asyncio.Queue[_Chunk | None]) -> None:
        rate = self.sample_rate
        frame_bytes = max(2, rate * self.options.frame_ms // 1000 * 2)
        new_encoder = self.options.encoder or (lambda: Pcm16Passthrough(rate))
        current: Segment | None = None
        encoder = new_encoder()
        buffer = bytearray()
        spans: list[WordSpan] = []
        flags = FrameFlags.SEGMENT_START

        async def frame(payload: bytes, offset: int, end: bool) -> None:
            nonlocal flags
            assert current is not None
            if end:
                flags |= FrameFlags.SEGMENT_END
            elif not payload:
                return  # the codec is still buffering
            await self.emit(AudioOut(self.turn_id, current.index, payload, offset, flags))
            flags = FrameFlags.NONE

        while (item := await chunks.get()) is not None:
            segment, chunk = item
            if segment is not current:
                current, encoder, flags = segment, new_encoder(), FrameFlags.SEGMENT_START
                buffer.clear()
                spans = []
                self.speaking = (segment, spans)
                heard = 0  # input samples of this segment handed to the encoder
                await self.emit(
                    SegmentStart(
                        turn_id=self.turn_id,
                        segment_id=segment.index,
                        text=segment.text,
                        speech=segment.speech,
                        char_start=segment.start,
                        char_end=segment.end,
                    )
                )
            if chunk is not None:
                buffer += chunk.pcm
                spans.extend(chunk.words)
                # Keep the tail back so the segment's last frame can carry SEGMENT_END.
                while len(buffer) > frame_bytes:
                    offset = encoder.samples
                    payload = await _encode(encoder, bytes(buffer[:frame_bytes]), end=False)
                    await frame(payload, offset, end=False)
                    heard += frame_bytes // 2
                    del buffer[:frame_bytes]
                continue
            offset = encoder.samples
            heard += len(buffer) // 2
            await frame(await _encode(encoder, bytes(buffer), end=True), offset, end=True)
            buffer.clear()
            await self._end_segment(segment, heard, rate, encoder.samples, spans)

    async def _end_segment(
        self, segment: Segment, samples: int, rate: int, samples_out: int, spans: list[WordSpan]
    ) -> None:
        words = word_timings(segment, samples, rate, spans)
        duration_ms = samples * 1000 / rate
        self.spoken.append(SpokenSegment(segment, self.audio_ms, duration_ms, words))
        self.audio_ms += duration_ms
        self.speaking = None
        await self.emit(
            SegmentEnd(
                turn_id=self.turn_id,
                segment_id=segment.index,
                duration_ms=round(duration_ms),
                samples=samples_out,
                words=words,
            )
        )


async def _encode(encoder: Encoder, pcm: bytes, *, end: bool) -> bytes:
    """Encode off the event loop unless it is a plain copy (opus/mp3 take ~2.5 ms a frame)."""

    def work() -> bytes:
        return encoder.encode(pcm) + (encoder.flush() if end else b"")

    return work() if isinstance(encoder, Pcm16Passthrough) else await asyncio.to_thread(work)


def heard_text(turn: Turn, played_ms: int) -> str:
    """The reply up to the last word whose audio had started within `played_ms`.

    A word counts as heard once its audio began; text before the first segment's first word
    (nothing) and between segments follows the words. Text that was never spoken (no segment
    reached it) is not heard. In a segment cut while its audio was being sent, the words the
    TTS had placed by then count.
    """
    end = 0
    for spoken in turn.spoken:
        for word in spoken.words:
            if spoken.start_ms + word.start_ms < played_ms:
                end = word.char_end
            else:
                return turn.text[:end]
    if turn.speaking is not None:
        segment, spans = turn.speaking
        rate = turn.sample_rate
        for span in sorted(spans, key=lambda s: s.index):
            if span.index >= len(segment.words):
                break
            if turn.audio_ms + span.start * 1000 / rate >= played_ms:
                break
            end = segment.words[span.index].end
    return turn.text[:end]


Item = str | DataItem | ToolEvent


def aiter_of(items: AsyncIterator[Item]) -> AsyncGenerator[Item, None]:
    """The responder's iterator as a generator that can be closed (apps may return either)."""
    if isinstance(items, AsyncGenerator):
        return items

    async def gen() -> AsyncGenerator[Item, None]:
        async for item in items:
            yield item

    return gen()


def word_timings(
    segment: Segment, samples: int, rate: int, spans: Sequence[WordSpan]
) -> tuple[WordTiming, ...]:
    """Timings of the segment's words in ms; estimated by length where the engine gave none."""
    words = segment.words
    if not words or samples <= 0:
        return ()
    by_index = {s.index: s for s in spans if 0 <= s.index < len(words)}
    if len(by_index) != len(words):
        # Spread the words over the audio in proportion to their length.
        total = sum(len(w.text) + 1 for w in words)
        pos = 0
        by_index = {}
        for i, w in enumerate(words):
            start = pos * samples // total
            pos += len(w.text) + 1
            by_index[i] = WordSpan(i, start, pos * samples // total)
    out: list[WordTiming] = []
    last_end = 0
    for i, w in enumerate(words):
        span = by_index[i]
        start = min(max(span.start, last_end), samples)
        end = min(max(span.end, start), samples)
        last_end = end
        out.append(
            WordTiming(
                text=w.text,
                start_ms=start * 1000 // rate,
                end_ms=end * 1000 // rate,
                char_start=w.start,
                char_end=w.end,
            )
        )
    return tuple(out)
