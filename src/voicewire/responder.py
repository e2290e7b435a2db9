"""The responder API: what an app plugs in to answer a turn.

A responder is an async generator function that gets the turn's context and yields text
(shown at once and spoken when voice is on) and `DataItem`s (sent as `data` events for cards,
and stored with the reply). It can delegate to the configured LLM with `ctx.llm_stream()`.
voicewire does the clause splitting, speech, transport and storage.

    async def respond(ctx: TurnContext) -> AsyncIterator[str | DataItem]:
        if "flat" in ctx.text:
            yield DataItem("propertyData", [{"id": 7, "title": "Maple Street"}])
            yield "I found one flat on Maple Street."
        else:
            async for delta in ctx.llm_stream():
                yield delta

With tools (`voicewire.tools`), `ctx.reply(tools)` is the LLM's reply calling them as it asks;
its items (text, data, and the tool events the turn sends as `tool.call`/`tool.result`) are
yielded on as they are.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voicewire.llm.base import LLM, ChatMessage, ToolLLM, plain

if TYPE_CHECKING:
    from voicewire.tools import Toolbox, ToolEvent
    from voicewire.tools.client import ClientTools


@dataclass(frozen=True, slots=True)
class DataItem:
    """Structured results for the client (e.g. the seed's `propertyData` cards)."""

    kind: str
    payload: Any


@dataclass(frozen=True, slots=True)
class TurnContext:
    text: str  # what the user said
    history: Sequence[ChatMessage]  # the conversation so far, this user message last
    llm: LLM
    identity: str | None = None  # the server-verified subject (guest id or user name)
    tools: Toolbox | None = None  # the tools registered with the server
    client_tools: ClientTools | None = None  # functions the client runs (Realtime)

    def llm_stream(
        self, messages: Sequence[ChatMessage] | None = None
    ) -> AsyncGenerator[str, None]:
        """The configured LLM's reply to `messages` (default: the conversation), as text."""
        messages = self.history if messages is None else messages
        if any(m.tool_calls or m.role == "tool" for m in messages):
            if isinstance(self.llm, ToolLLM):
                return _text_only(self.llm, messages)
            messages = plain(messages)
        return self.llm.stream(messages)

    def reply(
        self, tools: Toolbox | None = None, messages: Sequence[ChatMessage] | None = None
    ) -> AsyncGenerator[str | DataItem | ToolEvent, None]:
        """The LLM's reply, calling `tools` (default: the server's) when the LLM can call tools.

        An LLM that cannot (the embedded SmolLM2) answers in text, as `llm_stream` does. When
        the client declared functions (Realtime), those are offered instead, and run by it.
        """
        if self.client_tools is not None and isinstance(self.llm, ToolLLM):
            from voicewire.tools.client import client_reply

            messages = self.history if messages is None else messages
            return client_reply(self.llm, messages, self.client_tools)
        tools = self.tools if tools is None else tools
        if tools is None or not tools.tools or not isinstance(self.llm, ToolLLM):
            return _items(self.llm_stream(messages))
        from voicewire.tools.loop import tool_reply

        return tool_reply(self.llm, self.history if messages is None else messages, tools)


async def _text_only(llm: ToolLLM, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
    async with aclosing(llm.stream_tools(messages, [])) as items:
        async for item in items:
            if isinstance(item, str):
                yield item


async def _items(
    deltas: AsyncGenerator[str, None],
) -> AsyncGenerator[str | DataItem | ToolEvent, None]:
    async with aclosing(deltas) as items:
        async for item in items:
            yield item


Responder = Callable[[TurnContext], AsyncIterator["str | DataItem | ToolEvent"]]


async def llm_responder(ctx: TurnContext) -> AsyncGenerator[str | DataItem | ToolEvent, None]:
    """The default: the reply is whatever the LLM writes, calling the server's tools if any."""
    async with aclosing(ctx.reply()) as items:
        async for item in items:
            yield item


def load_responder(spec: str) -> Responder:
    """`module:attribute` → the responder it names (a function, or a class to instantiate)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"expected 'module:object', got {spec!r}")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if isinstance(obj, type):
        obj = obj()
    if not callable(obj):
        raise TypeError(f"{spec!r} is not callable")
    responder: Responder = obj
    return responder
