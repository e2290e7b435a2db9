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
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from voicewire.llm.base import LLM, ChatMessage


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

    def llm_stream(
        self, messages: Sequence[ChatMessage] | None = None
    ) -> AsyncGenerator[str, None]:
        """The configured LLM's reply to `messages` (default: the conversation)."""
        return self.llm.stream(self.history if messages is None else messages)


Responder = Callable[[TurnContext], AsyncIterator[str | DataItem]]


async def llm_responder(ctx: TurnContext) -> AsyncGenerator[str | DataItem, None]:
    """The default: the reply is whatever the LLM writes."""
    async with aclosing(ctx.llm_stream()) as deltas:
        async for delta in deltas:
            yield delta


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
