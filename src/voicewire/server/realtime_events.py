"""OpenAI Realtime (GA dialect) wire shapes for `/v1/realtime`: client events parsed, server
events built.

Client events and `parse` are in `realtime_client_events` (re-exported here, so that the
connection reads every shape as `rt.X`). Server events are plain dicts made here, each with a
fresh `event_id`, so that every shape the SDK reads is written in one place.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from voicewire.server.realtime_client_events import (
    KNOWN,
    AudioConfig,
    AudioFormat,
    AudioInput,
    AudioOutput,
    BufferAppend,
    BufferClear,
    BufferCommit,
    ClientEvent,
    Content,
    FunctionCallIn,
    FunctionCallOutputIn,
    FunctionTool,
    ItemCreate,
    ItemDelete,
    ItemIn,
    ItemRetrieve,
    ItemTruncate,
    Modality,
    NamedFunction,
    Problem,
    ResponseCancel,
    ResponseConfig,
    ResponseCreate,
    SessionConfig,
    SessionUpdate,
    ToolChoice,
    TurnDetection,
    parse,
)

__all__ = [
    "KNOWN",
    "OUTPUT_RATE",
    "AudioConfig",
    "AudioFormat",
    "AudioInput",
    "AudioOutput",
    "BufferAppend",
    "BufferClear",
    "BufferCommit",
    "ClientEvent",
    "Content",
    "FunctionCallIn",
    "FunctionCallOutputIn",
    "FunctionTool",
    "Item",
    "ItemCreate",
    "ItemDelete",
    "ItemIn",
    "ItemKind",
    "ItemRetrieve",
    "ItemTruncate",
    "Modality",
    "NamedFunction",
    "Problem",
    "ResponseCancel",
    "ResponseConfig",
    "ResponseCreate",
    "SessionConfig",
    "SessionUpdate",
    "ToolChoice",
    "TurnDetection",
    "error",
    "event",
    "new_id",
    "parse",
]

OUTPUT_RATE = 24000  # the Realtime protocol's pcm16 rate, in and out
ItemKind = Literal[
    "input_text",
    "input_audio",
    "output_text",
    "output_audio",
    "function_call",
    "function_call_output",
]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def event(type_: str, **fields: Any) -> str:
    """A server event as a text frame, with its own `event_id`."""
    return json.dumps({"type": type_, "event_id": new_id("event"), **fields})


def error(problem: Problem, *, kind: str = "invalid_request_error") -> str:
    body = {
        "type": kind,
        "code": problem.code,
        "message": problem.message,
        "param": problem.param,
        "event_id": problem.event_id,
    }
    return event("error", error=body)


@dataclass(eq=False)
class Item:
    """A conversation item: a message, whose text is what the conversation remembers.

    For an assistant's spoken reply `text` is its transcript, cut to what was heard by a
    truncate; `heard` recomputes it from the turn's word timings (set by the connection).
    """

    id: str
    role: Literal["user", "assistant", "system"]
    kind: ItemKind
    text: str = ""
    status: Literal["completed", "incomplete", "in_progress"] = "completed"
    turn_id: int | None = None
    sent_samples: int = 0  # of its audio, at OUTPUT_RATE (what the client can have played)
    heard: Callable[[int], str] | None = None  # audio_end_ms → the words heard by then
    call_id: str = ""  # a function call (`text`: its arguments) or its output (`text`)
    name: str = ""  # a function call's function

    def content(self) -> dict[str, Any]:
        if self.kind == "input_text":
            return {"type": "input_text", "text": self.text}
        if self.kind == "output_text":
            return {"type": "output_text", "text": self.text}
        if self.kind == "input_audio":
            return {"type": "input_audio", "transcript": self.text}
        return {"type": "output_audio", "transcript": self.text}

    def shape(self) -> dict[str, Any]:
        """The item as the SDK reads it (audio bytes are never echoed back)."""
        base = {"id": self.id, "object": "realtime.item", "type": self.kind}
        if self.kind == "function_call":
            return {
                **base,
                "status": self.status,
                "call_id": self.call_id,
                "name": self.name,
                "arguments": self.text,
            }
        if self.kind == "function_call_output":
            return {**base, "call_id": self.call_id, "output": self.text}
        return {
            "id": self.id,
            "object": "realtime.item",
            "type": "message",
            "role": self.role,
            "status": self.status,
            "content": [self.content()],
        }

    @property
    def sent_ms(self) -> int:
        return self.sent_samples * 1000 // OUTPUT_RATE
