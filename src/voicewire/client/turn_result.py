"""What one turn sent, as the client received it: its events with their arrival times, and
views of them (text, segments, audio, errors, a WAV file)."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from voicewire.protocol.frames import AudioFrame
from voicewire.protocol.messages import (
    Error,
    SegmentEnd,
    SegmentStart,
    ServerMessage,
    TextDelta,
    TurnEnd,
)

Event = ServerMessage | AudioFrame
OnEvent = Callable[[Event], None]


@dataclass
class TurnResult:
    """Everything one turn sent, with the arrival time (monotonic s) of each item."""

    turn_id: int
    events: list[tuple[float, Event]] = field(default_factory=list)
    end: TurnEnd | None = None
    sample_rate: int = 22050  # the session's audio format when the turn ran
    codec: str = "pcm16"

    @property
    def text(self) -> str:
        return "".join(e.text for _, e in self.events if isinstance(e, TextDelta))

    @property
    def segments(self) -> list[tuple[SegmentStart, SegmentEnd | None, bytes]]:
        """Each segment's start, end and concatenated audio payload, in order."""
        starts: dict[int, SegmentStart] = {}
        ends: dict[int, SegmentEnd] = {}
        audio: dict[int, bytearray] = {}
        for _, e in self.events:
            if isinstance(e, SegmentStart):
                starts[e.segment_id] = e
            elif isinstance(e, SegmentEnd):
                ends[e.segment_id] = e
            elif isinstance(e, AudioFrame):
                audio.setdefault(e.segment_id, bytearray()).extend(e.payload)
        return [(s, ends.get(i), bytes(audio.get(i, b""))) for i, s in sorted(starts.items())]

    @property
    def audio(self) -> bytes:
        return b"".join(a for _, _, a in self.segments)

    @property
    def errors(self) -> list[Error]:
        return [e for _, e in self.events if isinstance(e, Error)]

    def to_wav_bytes(self) -> bytes:
        """The turn's speech, segments back to back, as a mono 16-bit WAV file."""
        if self.codec != "pcm16":
            raise ValueError(f"WAV needs pcm16 audio; this turn's codec is {self.codec}")
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(self.sample_rate)
            w.writeframes(self.audio)
        return buffer.getvalue()

    def wav(self, path: str | Path) -> Path:
        """Write `to_wav_bytes()` to `path`; returns the path."""
        path = Path(path)
        path.write_bytes(self.to_wav_bytes())
        return path
