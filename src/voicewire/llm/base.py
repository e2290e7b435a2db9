"""The LLM contract: conversation in, an async iterator of text deltas out."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from voicewire.errors import EngineError
from voicewire.protocol.errors import ErrorCode

# The reply is read aloud: a listener cannot see a list, and a long answer is a long wait.
DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful voice assistant. Your answers are read aloud, so answer in two to four "
    "short, plain sentences, without lists, markdown or emoji, in the language of the question."
)


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


class LLMError(EngineError, RuntimeError, code=ErrorCode.LLM_FAILED):
    """The backend failed; the message is safe to log, not necessarily to show to users."""


class LLM(Protocol):
    """A chat model that streams its reply.

    Cancellation: the caller stops iterating and calls `aclose()` on the iterator (or cancels
    the task iterating it); the implementation must then stop generating promptly, also when
    the work runs in a thread.
    """

    name: str

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]: ...
