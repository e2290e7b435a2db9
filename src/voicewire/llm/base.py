"""The LLM contract: conversation in, an async iterator of text deltas out."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from voicewire.errors import EngineError
from voicewire.protocol.errors import ErrorCode

# The reply is read aloud: a listener cannot see a list, and a long answer is a long wait.
DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful voice assistant. Your answers are read aloud, so answer in two to four "
    "short, plain sentences, without lists, markdown or emoji, in the language of the question."
)


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    """A tool call the model made, complete (an item of an OpenAI message's `tool_calls`)."""

    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """A message of the conversation, in OpenAI's chat shape.

    An assistant message may carry the tool calls the model made after its `content`; a
    `tool` message is one call's result, named by `tool_call_id`.
    """

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: tuple[ToolCallRequest, ...] = ()
    tool_call_id: str | None = None

    def openai(self) -> dict[str, Any]:
        """The message as OpenAI-compatible chat APIs take it."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["content"] = self.content or None
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in self.tool_calls
            ]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        return out


def plain(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """The conversation as text only, for a model that cannot take tool calls: what was said."""
    return [
        ChatMessage(m.role, m.content)
        for m in messages
        if m.role != "tool" and (m.content or not m.tool_calls)
    ]


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call (OpenAI's `delta.tool_calls[i]`).

    Pieces with the same `index` make one call: the first usually brings `id` and `name`, the
    `arguments` fragments are joined in order (they may cut JSON anywhere, even mid-escape).
    """

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


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


@runtime_checkable
class ToolLLM(Protocol):
    """A chat model that can call tools: its stream interleaves text and tool-call pieces.

    `tools` are OpenAI function-tool schemas; an empty sequence offers none (the model must
    answer in text). Engines that cannot call tools do not have this method.
    """

    name: str

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]: ...

    def stream_tools(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[Mapping[str, Any]],
        tool_choice: str | Mapping[str, Any] = "auto",
    ) -> AsyncGenerator[str | ToolCallDelta, None]: ...
