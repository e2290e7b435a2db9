"""A `/v1/realtime` session's state: its configuration (`session.update`) and its items.

The items are the conversation as the Realtime client sees it; the LLM's context is derived
from them when a response starts (`Items.context`), so a deleted item, or an assistant item cut
by a truncate, is what later responses see. Both are plain data: no I/O, no asyncio.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from voicewire.llm.base import ChatMessage, ToolCallRequest, plain
from voicewire.server.realtime_events import (
    OUTPUT_RATE,
    Item,
    ItemKind,
    Modality,
    Problem,
    SessionConfig,
    TurnDetection,
    new_id,
)
from voicewire.tools.client import ClientTools
from voicewire.tools.history import whole

# OpenAI's built-in voice names: a client written for OpenAI's service sends one of them.
# They are accepted and mean this server's default voice (docs/realtime.md).
OPENAI_VOICES = frozenset(
    {"alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"}
)


@dataclass
class Config:
    """The session's settings; a response captures them when it starts."""

    model: str
    voices: tuple[str, ...]
    instructions: str = ""
    modality: Modality = "audio"
    voice: str | None = None  # one of `voices`; None: the server's default
    speed: float = 1.0
    vad: TurnDetection | None = field(default_factory=TurnDetection)
    tools: list[dict[str, Any]] = field(default_factory=list)  # functions the client runs
    tool_choice: str | dict[str, Any] = "auto"

    def apply(self, update: SessionConfig) -> Problem | None:
        """Apply `update` whole, or not at all (the Problem says why)."""
        audio = update.audio
        output = audio.output if audio is not None else None
        voice = self.voice
        if output is not None and output.voice is not None:
            if output.voice in self.voices:
                voice = output.voice
            elif output.voice in OPENAI_VOICES:
                voice = None
            else:
                known = ", ".join(self.voices)
                message = f"unknown voice {output.voice!r}; this server has: {known}"
                return Problem("invalid_value", message, param="session.audio.output.voice")
        self.voice = voice
        if output is not None and output.speed is not None:
            self.speed = output.speed
        if update.instructions is not None:
            self.instructions = update.instructions
        if update.output_modalities is not None:
            self.modality = update.output_modalities[0]
        if audio and audio.input and "turn_detection" in audio.input.model_fields_set:
            self.vad = audio.input.turn_detection
        if update.tools is not None:
            self.tools = [t.model_dump() for t in update.tools]
        if update.tool_choice is not None:
            choice = update.tool_choice
            self.tool_choice = choice if isinstance(choice, str) else choice.model_dump()
        return None

    def client_tools(self) -> ClientTools | None:
        """The functions offered to the model (none: the server's own tools, if any)."""
        return ClientTools.realtime(self.tools, self.tool_choice) if self.tools else None

    def shape(self, session_id: str) -> dict[str, Any]:
        pcm = {"type": "audio/pcm", "rate": OUTPUT_RATE}
        vad = None
        if self.vad is not None:
            vad = self.vad.model_dump()
        return {
            "type": "realtime",
            "object": "realtime.session",
            "id": session_id,
            "model": self.model,
            "output_modalities": [self.modality],
            "instructions": self.instructions,
            "audio": {
                "input": {"format": pcm, "turn_detection": vad, "transcription": None},
                "output": {
                    "format": pcm,
                    "voice": self.voice or self.voices[0],
                    "speed": self.speed,
                },
            },
            "tools": self.tools,
            "tool_choice": self.tool_choice,
        }


FUNCTION_KINDS = ("function_call", "function_call_output")
ROOT = "root"  # `previous_item_id` of an item created at the conversation's beginning


def chat_messages(items: list[Item]) -> list[ChatMessage]:
    """Items as the LLM's messages: calls join the assistant message before them, outputs
    are tool messages. A call without its output (or the reverse) is left out: chat APIs
    refuse either."""
    outputs = {i.call_id for i in items if i.kind == "function_call_output"}
    calls = {i.call_id for i in items if i.kind == "function_call"} & outputs
    out: list[ChatMessage] = []
    for i in items:
        if i.kind == "function_call" and i.call_id in calls:
            request = ToolCallRequest(i.call_id, i.name, i.text or "{}")
            last = out[-1] if out else None
            if last is not None and last.role == "assistant":
                out[-1] = replace(last, tool_calls=(*last.tool_calls, request))
            else:
                out.append(ChatMessage("assistant", "", tool_calls=(request,)))
        elif i.kind == "function_call_output" and i.call_id in calls:
            out.append(ChatMessage("tool", i.text, tool_call_id=i.call_id))
        elif i.kind not in FUNCTION_KINDS and i.text:
            out.append(ChatMessage(i.role, i.text))
    return out


class Items:
    """The conversation's items, the oldest forgotten past `limit` (a bounded session)."""

    def __init__(self, limit: int) -> None:
        self.items: deque[Item] = deque(maxlen=max(2, limit))

    def add(self, item: Item, after: str | None = None) -> str | None:
        """Put `item` after the item `after` (`"root"`: first; None: last), the oldest
        forgotten if the session is full; the id of the item before it. `after` must be
        "root", None, or an item's id (`placeable`)."""
        at = len(self.items)
        if after == ROOT:
            at = 0
        elif after is not None:
            at = next(n for n, i in enumerate(self.items) if i.id == after) + 1
        if len(self.items) == self.items.maxlen:
            self.items.popleft()
            at = max(0, at - 1)
        self.items.insert(at, item)
        return self.before(item)

    def placeable(self, after: str | None) -> bool:
        """`after` names a place for a new item: "root", none (the end), or an item."""
        return after in (None, ROOT) or self.find(after) is not None

    def before(self, item: Item) -> str | None:
        """The id of the item before `item` (None: it is first, or not in the session)."""
        at = next((n for n, i in enumerate(self.items) if i is item), 0)
        return self.items[at - 1].id if at else None

    def find(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)

    def delete(self, item: Item) -> None:
        self.items.remove(item)

    def context(self, instructions: str, room: int) -> tuple[list[ChatMessage], list[Item]]:
        """The LLM's context before the new user message (at most `room` messages, the
        instructions first), and the user items after the last reply (together, the new
        user message)."""
        items = list(self.items)
        pending: list[Item] = []
        while items and items[-1].role == "user" and items[-1].kind not in FUNCTION_KINDS:
            pending.insert(0, items.pop())
        system = [ChatMessage("system", instructions)] if instructions else []
        said = chat_messages(items)
        keep = max(0, room - len(system))
        return system + (whole(said[-keep:]) if keep else []), pending

    def answered(self) -> bool:
        """The last item is a function's output: a response goes on from there."""
        return bool(self.items) and self.items[-1].kind == "function_call_output"

    def load(self, history: list[ChatMessage]) -> None:
        """A stored conversation continued (`?conversation=`): its messages become items."""
        for message in plain(history):  # what was said (tool calls are not items here)
            role = message.role
            if role == "tool":
                continue
            kind: ItemKind = "output_text" if role == "assistant" else "input_text"
            self.add(Item(new_id("item"), role, kind, message.content))
