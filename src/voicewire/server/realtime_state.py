"""A `/v1/realtime` session's state: its configuration (`session.update`) and its items.

The items are the conversation as the Realtime client sees it; the LLM's context is derived
from them when a response starts (`Items.context`), so a deleted item, or an assistant item cut
by a truncate, is what later responses see. Both are plain data: no I/O, no asyncio.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from voicewire.llm.base import ChatMessage, plain
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
        return None

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
            "tools": [],
            "tool_choice": "auto",
        }


class Items:
    """The conversation's items, the oldest forgotten past `limit` (a bounded session)."""

    def __init__(self, limit: int) -> None:
        self.items: deque[Item] = deque(maxlen=max(2, limit))

    def add(self, item: Item) -> str | None:
        """Append `item`; the id of the item before it."""
        previous = self.items[-1].id if self.items else None
        self.items.append(item)
        return previous

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
        while items and items[-1].role == "user":
            pending.insert(0, items.pop())
        system = [ChatMessage("system", instructions)] if instructions else []
        said = [ChatMessage(i.role, i.text) for i in items if i.text]
        keep = max(0, room - len(system))
        return system + (said[-keep:] if keep else []), pending

    def load(self, history: list[ChatMessage]) -> None:
        """A stored conversation continued (`?conversation=`): its messages become items."""
        for message in plain(history):  # what was said (tool calls are not items here)
            role = message.role
            if role == "tool":
                continue
            kind: ItemKind = "output_text" if role == "assistant" else "input_text"
            self.add(Item(new_id("item"), role, kind, message.content))
