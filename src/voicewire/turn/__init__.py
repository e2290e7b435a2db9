"""The one place that owns concurrency: a turn's responder → clause splitter → TTS → frames.

pipeline.py  `Turn`: a writer and a speaker, run side by side in one task group
writer.py    the text side: responder items → `text.delta`, `data`, tool events, segments
speaker.py   the speech side: segments → TTS chunks → framed, encoded audio, word timings
heard.py     what the user heard of a reply at `played_ms` (for barge-in and truncate)
base.py      what a turn is given (`TurnOptions`) and what it emits (`Outgoing`)
"""

from voicewire.turn.base import AudioOut, Emit, Outgoing, TurnOptions
from voicewire.turn.heard import SpokenSegment, heard_text
from voicewire.turn.pipeline import Turn
from voicewire.turn.speaker import Speaker, word_timings
from voicewire.turn.writer import Writer, aiter_of

__all__ = [
    "AudioOut",
    "Emit",
    "Outgoing",
    "Speaker",
    "SpokenSegment",
    "Turn",
    "TurnOptions",
    "Writer",
    "aiter_of",
    "heard_text",
    "word_timings",
]
