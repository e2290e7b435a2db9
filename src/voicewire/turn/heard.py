"""What the user heard of a reply: its text up to the word whose audio was playing at `played_ms`.

An interrupted spoken reply is stored, and answered in `turn.end`, as what was heard
(PROTOCOL.md §1, barge-in); the Realtime endpoint's truncate cuts to it as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from voicewire.protocol.messages import WordTiming
from voicewire.text.segmenter import Segment

if TYPE_CHECKING:
    from voicewire.turn.pipeline import Turn


@dataclass(frozen=True, slots=True)
class SpokenSegment:
    """Where a segment sits on the turn's audio timeline (for truncating to what was heard)."""

    segment: Segment
    start_ms: float
    duration_ms: float
    words: tuple[WordTiming, ...]


def heard_text(turn: Turn, played_ms: int) -> str:
    """The reply up to the last word whose audio had started within `played_ms`.

    A word counts as heard once its audio began; text before the first segment's first word
    (nothing) and between segments follows the words. Text that was never spoken (no segment
    reached it) is not heard. In a segment cut while its audio was being sent, the words the
    TTS had placed by then count.
    """
    speaker = turn.speaker
    end = 0
    for spoken in speaker.spoken:
        for word in spoken.words:
            if spoken.start_ms + word.start_ms < played_ms:
                end = word.char_end
            else:
                return turn.text[:end]
    if speaker.speaking is not None:
        segment, spans = speaker.speaking
        rate = speaker.sample_rate
        for span in sorted(spans, key=lambda s: s.index):
            if span.index >= len(segment.words):
                break
            if speaker.audio_ms + span.start * 1000 / rate >= played_ms:
                break
            end = segment.words[span.index].end
    return turn.text[:end]
