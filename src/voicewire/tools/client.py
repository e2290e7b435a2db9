"""Tools the client runs (Realtime function tools): the model's calls are handed over.

The reply is one step: the model's text streams as usual, and its calls end the reply as
`ToolStarted` runs with status `client`. The client runs them and sends their outputs; the
next response continues from there (`server/realtime_state.Items.context`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from voicewire.llm.base import ChatMessage, ToolCallDelta, ToolLLM
from voicewire.tools.events import ToolRun, ToolStarted
from voicewire.tools.loop import CallAssembler, ReplyItem


@dataclass(frozen=True)
class ClientTools:
    """Functions the client declared, as OpenAI chat function-tool schemas, and its choice."""

    schemas: tuple[Mapping[str, Any], ...]
    choice: str | Mapping[str, Any] = "auto"

    @classmethod
    def realtime(
        cls, tools: Sequence[Mapping[str, Any]], choice: str | Mapping[str, Any]
    ) -> ClientTools:
        """From Realtime's flat shapes ({type, name, description, parameters})."""
        schemas = tuple(
            {
                "type": "function",
                "function": {
                    "name": t["name"],
                    "description": t.get("description", ""),
                    "parameters": t.get("parameters") or {"type": "object", "properties": {}},
                },
            }
            for t in tools
        )
        if isinstance(choice, Mapping):
            choice = {"type": "function", "function": {"name": choice["name"]}}
        return cls(schemas, choice)


async def client_reply(
    llm: ToolLLM, messages: Sequence[ChatMessage], tools: ClientTools
) -> AsyncGenerator[ReplyItem, None]:
    """The model's reply; the calls it makes are handed to the client and end it."""
    calls = CallAssembler()
    async with aclosing(llm.stream_tools(messages, tools.schemas, tools.choice)) as items:
        async for item in items:
            if isinstance(item, ToolCallDelta):
                calls.add(item)
            elif item:
                yield item
    for call in calls.calls():
        yield ToolStarted(ToolRun(call, visible=True, status="client"))
