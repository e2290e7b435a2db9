"""The speech side of a turn: segments → TTS chunks → `segment.start`, audio, `segment.end`.

Two stages, joined by a bounded queue of chunks:

    synthesize  segments → TTS chunks, one segment at a time, in order, each with a deadline
    send        chunks → `segment.start`, encoded audio frames, `segment.end` with word timings

So the next segment is being synthesized while the previous one's audio is still being handed
to the socket. The speaker keeps where each segment sits on the turn's audio timeline, for
`heard_text`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field

from voicewire import scheduling
from voicewire.codecs.base import Encoder
from voicewire.codecs.pcm16 import Pcm16Passthrough
from voicewire.protocol.errors import ErrorCode
from voicewire.protocol.frames import FrameFlags
from voicewire.protocol.messages import Error, SegmentEnd, SegmentStart, WordTiming
from voicewire.text.segmenter import Segment
from voicewire.tts.base import TTS, SpeechChunk, TTSError, WordSpan
from voicewire.turn.base import AudioOut, Emit, Likely, Segments, TurnOptions
from voicewire.turn.early import Early, drop
from voicewire.turn.heard import SpokenSegment

log = logging.getLogger(__name__)

# A segment that is likely next is started early while its listener has less audio than this.
_EARLY_WITHIN_S = 1.0

Chunk = tuple[Segment, SpeechChunk | None]  # None: the segment's audio is complete


@dataclass
class Speaker:
    """Speaks a turn's segments and keeps what was spoken, and when."""

    turn_id: int
    tts: TTS
    emit: Emit
    options: TurnOptions
    spoken: list[SpokenSegment] = field(default_factory=list)
    audio_ms: float = 0.0
    # The segment whose audio is being sent, and the word spans the TTS gave for it so far:
    # a cancel can cut it mid-way, and its words already played were heard.
    speaking: tuple[Segment, list[WordSpan]] | None = None
    # When the listener started playing (~ the first audio; None: not yet) and the audio made
    # so far, on the scheduler's clock (time.monotonic): its audio runs out at their sum.
    play_start: float | None = None
    queued_s: float = 0.0
    # Waits until the reply's text up to a char offset is sent: a segment is announced after
    # its text (synthesis starts before, the writer may be held at the start gate).
    text_sent: Callable[[int], Awaitable[None]] | None = None

    @property
    def dry_at(self) -> float | None:
        """When the listener will have played all the audio made so far (None: none yet)."""
        return None if self.play_start is None else self.play_start + self.queued_s

    def ahead_s(self) -> float | None:
        """Seconds of audio made beyond what the listener has played (None: none yet)."""
        dry = self.dry_at
        return None if dry is None else dry - time.monotonic()

    @property
    def sample_rate(self) -> int:
        """The rate of the TTS's audio for this turn (its voice's)."""
        return self.options.sample_rate or self.tts.sample_rate

    async def synthesize(
        self, segments: asyncio.Queue[Segments], chunks: asyncio.Queue[Chunk | None]
    ) -> None:
        """Synthesize each segment into `chunks` (a None after each segment, and at the end).

        A `Likely` segment starts its first piece early, while the speaker has nothing else to
        do; the piece is used if the same segment then arrives, and dropped otherwise."""
        failed = False
        early: Early | None = None
        try:
            while (item := await segments.get()) is not None:
                if isinstance(item, Likely):
                    await drop(early)
                    early = None
                    # Only for a listener that is waiting for it (else the token's wait is no
                    # loss, and a guess that proves wrong would cost a large window); and only
                    # when the queue holds nothing newer (else its fate is known already).
                    ahead = self.ahead_s()
                    waiting = ahead is None or ahead < _EARLY_WITHIN_S
                    if waiting and segments.empty() and not failed and item.segment.speech:
                        early = self._start(item.segment)
                    continue
                if early is not None and early.segment != item:
                    await drop(early)
                    early = None
                if failed or not item.speech:
                    continue
                kept, early = early, None  # (its pieces close it from here on)
                failed = not await self._speak(item, chunks, kept)
        finally:
            await drop(early)
        await chunks.put(None)

    def _start(self, segment: Segment) -> Early:
        """Synthesis of `segment`, its first piece under way."""
        self._schedule()
        opts = self.options
        speech = self.tts.synthesize(segment.speech, voice=opts.voice_name, rate=opts.rate)
        return Early(segment, speech, asyncio.ensure_future(anext(speech, None)))

    async def _speak(
        self,
        segment: Segment,
        chunks: asyncio.Queue[Chunk | None],
        early: Early | None,
    ) -> bool:
        """Put `segment`'s pieces into `chunks`; False: its synthesis failed (the client is
        told, and the reply goes on as text)."""
        clock = time.monotonic  # the scheduler's clock (uvloop's loop.time() is another one)
        started = False
        try:
            async with aclosing((early or self._start(segment)).pieces()) as pieces:
                async for piece in pieces:
                    started = True
                    self._arrived(clock(), len(piece.pcm) / 2 / self.sample_rate)
                    self._schedule()
                    await chunks.put((segment, piece))
        except TTSError as exc:
            log.warning("turn %d: TTS failed: %s", self.turn_id, exc)
            await self.emit(
                Error(
                    code=ErrorCode.TTS_FAILED,
                    message="speech synthesis failed; the reply continues as text",
                    turn_id=self.turn_id,
                )
            )
            if started:  # a segment whose synthesis failed at once is not announced
                await chunks.put((segment, None))
            return False
        await chunks.put((segment, None))
        return True

    def _schedule(self) -> None:
        """The deadline and the audio made so far, for the TTS's next piece (see scheduling):
        due when the audio already produced will have played out; the turn's first audio goes
        before every other session's next piece."""
        due = self.dry_at
        scheduling.deadline.set(-math.inf if due is None else due)
        scheduling.produced.set(self.queued_s)

    def _arrived(self, now: float, seconds: float) -> None:
        """A piece of `seconds` of audio is ready `now`. A listener that ran dry waited for it
        and plays on from here, as a player does: its timeline moves by the wait, so the next
        deadline is not in the past (which kept every later piece at the smallest size)."""
        if self.play_start is None:
            self.play_start = now
        else:
            self.play_start += max(0.0, now - (self.play_start + self.queued_s))
        self.queued_s += seconds

    async def send(self, chunks: asyncio.Queue[Chunk | None]) -> None:
        """Frame and encode the chunks: each segment's start, its audio, its end with timings."""
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
                if self.text_sent is not None:
                    await self.text_sent(segment.end)
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
