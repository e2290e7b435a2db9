"""TTS engines: `piper` (default, embedded), `openai` (any compatible server), `fake` (tests)."""

from voicewire.tts.base import TTS, SpeechChunk, TTSError, WordSpan

__all__ = ["TTS", "SpeechChunk", "TTSError", "WordSpan"]
