"""OpenAI Realtime (GA dialect) client events for `/v1/realtime`: their models and `parse`.

The events are frozen pydantic models (unknown fields ignored, as the Realtime service does);
`parse` never raises: it returns the event or a `Problem` that the connection sends back as an
`error` event echoing the client's `event_id`. `realtime_events` re-exports all of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
)

Modality = Literal["text", "audio"]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Event(_In):
    event_id: str | None = Field(default=None, max_length=200)


class AudioFormat(_In):
    type: Literal["audio/pcm"] = "audio/pcm"
    rate: Literal[24000] = 24000


class TurnDetection(_In):
    type: Literal["server_vad", "semantic_vad"] = "server_vad"
    create_response: bool = True
    interrupt_response: bool = True


class AudioInput(_In):
    format: AudioFormat | None = None
    turn_detection: TurnDetection | None = None  # null (sent) means: no turn detection


class AudioOutput(_In):
    format: AudioFormat | None = None
    voice: str | None = Field(default=None, max_length=200)
    speed: float | None = Field(default=None, ge=0.5, le=1.5)


class AudioConfig(_In):
    input: AudioInput | None = None
    output: AudioOutput | None = None


class FunctionTool(_In):
    """A function the client declares; the model may call it, the client runs it."""

    type: Literal["function"] = "function"
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str = Field(default="", max_length=4000)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class NamedFunction(_In):
    type: Literal["function"] = "function"
    name: str


ToolChoice = Literal["auto", "none", "required"] | NamedFunction


class SessionConfig(_In):
    type: Literal["realtime"] | None = None
    instructions: str | None = Field(default=None, max_length=20000)
    output_modalities: list[Modality] | None = Field(default=None, min_length=1, max_length=1)
    audio: AudioConfig | None = None
    tools: list[FunctionTool] | None = Field(default=None, max_length=128)
    tool_choice: ToolChoice | None = None


class Content(_In):
    type: Literal["input_text", "input_audio", "text", "output_text", "output_audio"]
    text: str | None = None
    transcript: str | None = None
    audio: str | None = None


class ItemIn(_In):
    id: str | None = Field(default=None, max_length=64)
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system"]
    content: list[Content] = Field(min_length=1, max_length=16)


class FunctionCallIn(_In):
    """A function call item a client adds (replaying a conversation)."""

    id: str | None = Field(default=None, max_length=64)
    type: Literal["function_call"]
    call_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)
    arguments: str = ""


class FunctionCallOutputIn(_In):
    """What the client's function returned, for the call `call_id`."""

    id: str | None = Field(default=None, max_length=64)
    type: Literal["function_call_output"]
    call_id: str = Field(min_length=1, max_length=64)
    output: str


class ResponseConfig(_In):
    instructions: str | None = Field(default=None, max_length=20000)
    output_modalities: list[Modality] | None = Field(default=None, min_length=1, max_length=1)


class SessionUpdate(_Event):
    type: Literal["session.update"]
    session: SessionConfig


def _item_type(item: Any) -> str:
    kind = item.get("type") if isinstance(item, dict) else getattr(item, "type", None)
    return kind if isinstance(kind, str) else "message"  # a message's type may be left out


class ItemCreate(_Event):
    type: Literal["conversation.item.create"]
    previous_item_id: str | None = None
    item: Annotated[
        Annotated[ItemIn, Tag("message")]
        | Annotated[FunctionCallIn, Tag("function_call")]
        | Annotated[FunctionCallOutputIn, Tag("function_call_output")],
        Discriminator(_item_type),
    ]


class ItemRetrieve(_Event):
    type: Literal["conversation.item.retrieve"]
    item_id: str


class ItemDelete(_Event):
    type: Literal["conversation.item.delete"]
    item_id: str


class ItemTruncate(_Event):
    type: Literal["conversation.item.truncate"]
    item_id: str
    content_index: int = Field(ge=0)
    audio_end_ms: int = Field(ge=0)


class ResponseCreate(_Event):
    type: Literal["response.create"]
    response: ResponseConfig | None = None


class ResponseCancel(_Event):
    type: Literal["response.cancel"]
    response_id: str | None = None


class BufferAppend(_Event):
    type: Literal["input_audio_buffer.append"]
    audio: str


class BufferCommit(_Event):
    type: Literal["input_audio_buffer.commit"]


class BufferClear(_Event):
    type: Literal["input_audio_buffer.clear"]


ClientEvent = Annotated[
    SessionUpdate
    | ItemCreate
    | ItemRetrieve
    | ItemDelete
    | ItemTruncate
    | ResponseCreate
    | ResponseCancel
    | BufferAppend
    | BufferCommit
    | BufferClear,
    Field(discriminator="type"),
]
_CLIENT_EVENT: TypeAdapter[ClientEvent] = TypeAdapter(ClientEvent)
KNOWN = frozenset(
    {
        "session.update",
        "conversation.item.create",
        "conversation.item.retrieve",
        "conversation.item.delete",
        "conversation.item.truncate",
        "response.create",
        "response.cancel",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
    }
)


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with a client event (sent back as an `error` event)."""

    code: str
    message: str
    event_id: str | None = None
    param: str | None = None


def parse(raw: str) -> ClientEvent | Problem:
    """A client event, or what is wrong with it. Never raises."""
    try:
        obj = json.loads(raw)
    except ValueError:
        return Problem("invalid_json", "the event is not valid JSON")
    if not isinstance(obj, dict):
        return Problem("invalid_json", "the event must be a JSON object")
    event_id = obj.get("event_id") if isinstance(obj.get("event_id"), str) else None
    kind = obj.get("type")
    if kind not in KNOWN:
        return Problem("unknown_event", f"unsupported event type {kind!r}", event_id, "type")
    try:
        return _CLIENT_EVENT.validate_python(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"][1:])
        return Problem("invalid_value", f"{param}: {first['msg']}", event_id, param or None)
