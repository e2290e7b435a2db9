"""Turn events → OpenAI Realtime server events: the `Outbox` framer of `/v1/realtime`.

A turn is one Realtime response with one assistant message item and one content part (audio
with its transcript, or text). The frames of a turn, in order:

    turn.start   → response.created, response.output_item.added, conversation.item.added,
                   response.content_part.added
    text.delta   → response.output_audio_transcript.delta (audio) | response.output_text.delta
    audio        → response.output_audio.delta (base64 pcm16, 24 kHz mono)
    error        → error (server_error)
    turn.end     → …audio.done, …transcript.done | …text.done, content_part.done,
                   output_item.done, conversation.item.done, response.done

Segments and word timings have no Realtime event: they stay server-side, where a truncate
uses them. The transcript runs ahead of the audio (it is the LLM's text as written).

A response offering the client's functions may call them: each call is an output item of type
`function_call` (`output_item.added`, `function_call_arguments.delta`/`.done`,
`output_item.done`), framed when the response ends, after the words said before the calls (a
cancelled response's calls are not handed over). Its message item then starts only with its
first text or audio, and a response that only calls functions has no message item, as
OpenAI's service does.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from voicewire.protocol.messages import (
    Error,
    ServerMessage,
    TextDelta,
    ToolCall,
    TurnEnd,
    TurnStart,
)
from voicewire.server.realtime_events import Item, Problem, error, event
from voicewire.turn import AudioOut

STATUS = {"complete": "completed", "interrupted": "cancelled", "failed": "failed"}


@dataclass(eq=False)
class Response:
    """One response: its id, its item, and how it ended (set by the connection)."""

    id: str
    item: Item
    audio: bool
    reason: Literal["client_cancelled", "turn_detected"] = "client_cancelled"
    error: Error | None = None
    functions: bool = False  # the client's functions are offered
    calls: list[Item] = field(default_factory=list)  # function calls, added by the connection
    outputs: list[Item] = field(default_factory=list)  # output items, in the order they began

    def shape(self, status: str) -> dict[str, Any]:
        details: dict[str, Any] | None = None
        if status == "cancelled":
            details = {"type": "cancelled", "reason": self.reason}
        elif status == "failed":
            failure = self.error
            details = {
                "type": "failed",
                "error": {
                    "type": "server_error",
                    "code": failure.code if failure else "internal_error",
                    "message": failure.message if failure else "the response failed",
                },
            }
        return {
            "object": "realtime.response",
            "id": self.id,
            "status": status,
            "status_details": details,
            "output": [o.shape() for o in self.outputs] if status != "in_progress" else [],
            "output_modalities": ["audio" if self.audio else "text"],
            "conversation_id": None,
            "usage": None,
        }


class RealtimeFramer:
    """Frames turn events; `responses` is filled by the connection when it starts a turn.
    `before(item)` is the id of the item before `item` in the conversation (None: first), for
    the `previous_item_id` of its `conversation.item.added` / `done`."""

    def __init__(self, before: Callable[[Item], str | None]) -> None:
        self.responses: dict[int, Response] = {}
        self.before = before

    def frame(self, item: ServerMessage | AudioOut) -> Sequence[str]:
        if isinstance(item, Error):
            return self._error(item)
        turn_id = getattr(item, "turn_id", None)
        response = self.responses.get(turn_id) if isinstance(turn_id, int) else None
        if response is None:
            return ()
        if isinstance(item, TurnStart):
            head = [event("response.created", response=response.shape("in_progress"))]
            return head if response.functions else head + self._start(response)
        if isinstance(item, ToolCall):
            return []  # handed to the client when the response ends (`_handed`)
        opened: list[str] = []
        if response.item not in response.outputs and isinstance(item, TextDelta | AudioOut):
            opened = self._start(response)
        ids = {
            "response_id": response.id,
            "item_id": response.item.id,
            "output_index": index(response, response.item),
        }
        part = {**ids, "content_index": 0}
        return opened + self._frame(response, item, ids, part)

    def _frame(
        self,
        response: Response,
        item: ServerMessage | AudioOut,
        ids: dict[str, Any],
        part: dict[str, Any],
    ) -> list[str]:
        if isinstance(item, TextDelta):
            kind = "output_audio_transcript" if response.audio else "output_text"
            return [event(f"response.{kind}.delta", **part, delta=item.text)]
        if isinstance(item, AudioOut):
            response.item.sent_samples += len(item.payload) // 2
            delta = base64.b64encode(item.payload).decode("ascii")
            return [event("response.output_audio.delta", **part, delta=delta)]
        if isinstance(item, TurnEnd):
            if response.item not in response.outputs:
                if response.calls:  # only function calls: no message item
                    self.responses.pop(item.turn_id, None)
                    handed = self._handed(response)
                    done = event("response.done", response=response.shape(STATUS[item.status]))
                    return [*handed, done]
                return self._start(response) + self._end(response, item, ids, part)
            return self._end(response, item, ids, part)
        return []  # segments, word timings and app data have no Realtime event

    def _handed(self, response: Response) -> list[str]:
        """The response's function calls, handed to the client as it ends: a client runs a
        function at its output_item.done and sends response.create at once (agents-realtime),
        so nothing of the response may follow them but its response.done."""
        return [frame for item in response.calls for frame in self._call(response, item)]

    def _call(self, response: Response, item: Item) -> list[str]:
        response.outputs.append(item)
        at = {"response_id": response.id, "output_index": index(response, item)}
        fields = {**at, "item_id": item.id, "call_id": item.call_id}
        pending = {**item.shape(), "status": "in_progress", "arguments": ""}
        return [
            event("response.output_item.added", **at, item=pending),
            event("conversation.item.added", previous_item_id=self.before(item), item=pending),
            event("response.function_call_arguments.delta", **fields, delta=item.text),
            event(
                "response.function_call_arguments.done",
                **fields,
                name=item.name,
                arguments=item.text,
            ),
            event("response.output_item.done", **at, item=item.shape()),
            event("conversation.item.done", previous_item_id=self.before(item), item=item.shape()),
        ]

    def _start(self, response: Response) -> list[str]:
        item = response.item
        response.outputs.append(item)
        at = index(response, item)
        part = {"response_id": response.id, "item_id": item.id, "output_index": at}
        part["content_index"] = 0
        pending = item.shape()
        pending["content"] = []
        empty = {"type": "audio", "transcript": ""} if response.audio else {"type": "text"}
        if not response.audio:
            empty["text"] = ""
        return [
            event(
                "response.output_item.added",
                response_id=response.id,
                output_index=at,
                item=pending,
            ),
            event("conversation.item.added", previous_item_id=self.before(item), item=pending),
            event("response.content_part.added", **part, part=empty),
        ]

    def _end(
        self, response: Response, end: TurnEnd, ids: dict[str, Any], part: dict[str, Any]
    ) -> list[str]:
        self.responses.pop(end.turn_id, None)
        item, status = response.item, STATUS[end.status]
        # The item's text was settled by the connection when the turn ended (cut to what was
        # heard when cancelled); this says what was sent, and how it ended.
        if response.audio:
            frames = [
                event("response.output_audio.done", **part),
                event("response.output_audio_transcript.done", **part, transcript=item.text),
            ]
            finished = {"type": "audio", "transcript": item.text}
        else:
            frames = [event("response.output_text.done", **part, text=item.text)]
            finished = {"type": "text", "text": item.text}
        frames += [
            event("response.content_part.done", **part, part=finished),
            event("response.output_item.done", **{**ids, "item": item.shape()}),
            event("conversation.item.done", previous_item_id=self.before(item), item=item.shape()),
            *self._handed(response),
            event("response.done", response=response.shape(status)),
        ]
        return frames

    def _error(self, item: Error) -> list[str]:
        response = self.responses.get(item.turn_id) if item.turn_id is not None else None
        if response is not None:
            response.error = item
        return [error(Problem(item.code, item.message), kind="server_error")]


def index(response: Response, item: Item) -> int:
    """The item's output_index: its place among the response's outputs."""
    return response.outputs.index(item) if item in response.outputs else len(response.outputs)
