"""Text processing: cutting a streamed reply into speakable segments."""

from voicewire.text.segmenter import ClauseSplitter, Segment, Word

__all__ = ["ClauseSplitter", "Segment", "Word"]
