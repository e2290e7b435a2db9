"""A deterministic LLM for tests and benchmarks: streams a fixed reply word by word."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any

from voicewire.llm.base import ChatMessage, ToolCallDelta

DEFAULT_REPLY = (
    "Sure, I can help with that. The apartment on Maple Street has two bedrooms, a bright "
    "kitchen and a small balcony that faces the park. It costs $1,850 a month, utilities "
    "included, and it is available from March 1st. Dr. Smith, the owner, lives nearby and "
    "answers e-mails quickly. The building has an elevator, a bike room and a laundry on the "
    "ground floor. If you prefer, I can send you the floor plan, photos of the kitchen, and "
    "the contact details of the agent. Would you like me to book a visit for this weekend, or "
    "should I look for something closer to the station?"
)


class ScriptedLLM:
    """Streams `reply` at `tokens_per_second` after `first_token_ms` (tests and benchmarks)."""

    name = "scripted"

    def __init__(
        self,
        reply: str = DEFAULT_REPLY,
        *,
        tokens_per_second: float = 30.0,
        first_token_ms: float = 100.0,
    ) -> None:
        self.reply = reply
        self.interval = 1.0 / tokens_per_second if tokens_per_second > 0 else 0.0
        self.first_token_s = first_token_ms / 1000.0
        # A token is a word with the whitespace before it, as LLM tokenizers usually cut.
        self.tokens = re.findall(r"\s*\S+", reply) or [reply]

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        loop = asyncio.get_running_loop()
        start = loop.time() + self.first_token_s
        for i, token in enumerate(self.tokens):
            # Paced against the clock, not by summed sleeps, so slow consumers don't drift.
            delay = start + i * self.interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            yield token


Step = Sequence[str | ToolCallDelta]
# A step may also be made from the request's messages (to say what a tool returned).
StepOf = Step | Callable[[Sequence[ChatMessage]], Step]


def call_pieces(
    index: int, call_id: str, name: str, arguments: str, *, size: int = 3
) -> list[ToolCallDelta]:
    """A tool call as a server streams it: id and name first, then the arguments cut every
    `size` chars (inside strings and escapes alike)."""
    pieces = [ToolCallDelta(index, id=call_id, name=name)]
    pieces += [
        ToolCallDelta(index, arguments=arguments[i : i + size])
        for i in range(0, len(arguments), size)
    ]
    return pieces


class ScriptedToolLLM(ScriptedLLM):
    """A deterministic LLM that calls tools (tests and benchmarks only).

    `steps[k]` is what it streams at step k of a reply: text deltas and tool-call pieces. The
    step is the number of tool-call rounds since the last user message, so replaying a
    conversation gives the same reply. Every request's messages and tools are kept in `seen`.
    """

    def __init__(
        self,
        steps: Sequence[StepOf],
        *,
        tokens_per_second: float = 0.0,
        first_token_ms: float = 0.0,
    ) -> None:
        super().__init__(tokens_per_second=tokens_per_second, first_token_ms=first_token_ms)
        self.steps = [step if callable(step) else list(step) for step in steps]
        self.seen: list[tuple[list[ChatMessage], list[Mapping[str, Any]]]] = []

    async def stream_tools(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[Mapping[str, Any]],
        tool_choice: str | Mapping[str, Any] = "auto",
    ) -> AsyncGenerator[str | ToolCallDelta, None]:
        self.seen.append((list(messages), list(tools)))
        users = [i for i, m in enumerate(messages) if m.role == "user"]
        since = messages[users[-1] + 1 :] if users else messages
        step = sum(1 for m in since if m.tool_calls)
        chosen = self.steps[min(step, len(self.steps) - 1)]
        items = list(chosen(messages) if callable(chosen) else chosen)
        loop = asyncio.get_running_loop()
        start = loop.time() + self.first_token_s
        for i, item in enumerate(items):
            delay = start + i * self.interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            yield item
