"""LLM engines: `llamacpp` (default, embedded), `openai` (any compatible server), `scripted`."""

from voicewire.llm.base import LLM, ChatMessage, LLMError

__all__ = ["LLM", "ChatMessage", "LLMError"]
