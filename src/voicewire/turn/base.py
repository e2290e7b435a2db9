"""What a turn is given and what it gives: its options, and the items it hands to `emit`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from voicewire.codecs.base import EncoderFactory
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
)
from voicewire.text.segmenter import Segment


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


@dataclass(frozen=True, slots=True)
class Likely:
    """A segment the splitter will release if whitespace comes next (a sentence whose period
    has come): the speaker may start synthesizing it, and keeps that work only if the same
    segment then arrives."""

    segment: Segment


Segments = Segment | Likely | None  # None: the reply has no more segments
