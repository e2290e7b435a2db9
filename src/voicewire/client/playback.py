"""Real-time playback of a turn's audio, on the wall clock: where it would run dry.

A listener starts playing when the first audio arrives and plays on in real time. A frame that
arrives after everything before it has been played is an underrun: silence from the moment the
audio ran out until it arrived, and playback goes on from there. This is what the browser's
player hears (its gapless queue restarts after a lead) and what the benchmarks count; a
`Client(report_underruns=True)` sends each one to the server as `playback.underrun`.
"""

from __future__ import annotations

from dataclasses import dataclass

from voicewire.protocol.messages import MAX_UNDERRUN_MS


@dataclass(frozen=True, slots=True)
class Underrun:
    dry_at: float  # when the audio ran out (the clock of `feed`'s `arrived`, s)
    silence_s: float  # until the next audio arrived
    at_s: float  # how far into the turn's audio the gap fell

    def message(self, turn_id: int) -> dict[str, object]:
        """The `playback.underrun` event that reports it (PROTOCOL.md §2)."""
        silence = min(MAX_UNDERRUN_MS, max(1, round(self.silence_s * 1000)))
        return {
            "type": "playback.underrun",
            "turn_id": turn_id,
            "silence_ms": silence,
            "at_ms": round(self.at_s * 1000),
        }


class PlaybackClock:
    """One turn's playback: `feed` each piece of audio as it arrives."""

    def __init__(self) -> None:
        self.ends: float | None = None  # when the audio received so far will have played
        self.audio_s = 0.0  # audio received so far

    def feed(self, arrived: float, duration_s: float) -> Underrun | None:
        """`duration_s` of audio arrived at `arrived` (s); the underrun it ends, if any."""
        if duration_s <= 0:
            return None
        gap = None
        if self.ends is None:
            self.ends = arrived
        elif arrived > self.ends:
            gap = Underrun(self.ends, arrived - self.ends, self.audio_s)
            self.ends = arrived
        self.ends += duration_s
        self.audio_s += duration_s
        return gap
