"""What a reply with tools tells its turn, besides text and data: a call started or ended.

The tool loop (`tools.loop`) yields these among the reply's text; the turn sends them to the
client (`tool.call`, `tool.result`), cuts the speech before a call (what was said so far is
spoken while the tool runs) and keeps the runs for the stored reply.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic_core import to_jsonable_python

from voicewire.llm.base import ToolCallRequest
from voicewire.protocol.messages import ToolCall, ToolResult

# "client": the call is handed to the client, which runs it (Realtime function tools).
ToolStatus = Literal["running", "ok", "error", "timeout", "cancelled", "client"]


@dataclass(eq=False)
class ToolRun:
    """One tool call of a turn, from the model's request to its result (or its cancellation)."""

    call: ToolCallRequest
    visible: bool = False  # the app lets the client see the result
    status: ToolStatus = "running"
    content: str = ""  # what the model is told: the result as JSON, or an error
    result: Any = None  # the tool's return value
    at: int = 0  # where in the reply's text the call was made
    started: float = field(default_factory=time.monotonic)
    duration_ms: int = 0

    def finish(self, status: ToolStatus, content: str, result: Any = None) -> None:
        """End the run; the first end stands (an abandoned tool may end after its cancel)."""
        if self.status != "running":
            return
        self.status, self.content, self.result = status, content, result
        self.duration_ms = round((time.monotonic() - self.started) * 1000)

    def arguments(self) -> Any:
        """The call's arguments, parsed (the raw text when the model wrote no valid JSON)."""
        try:
            return json.loads(self.call.arguments or "{}")
        except ValueError:
            return self.call.arguments

    def record(self) -> dict[str, Any]:
        """The run as stored with the reply (and given back to the model on later turns)."""
        return {
            "id": self.call.id,
            "name": self.call.name,
            "arguments": self.call.arguments,
            "status": "cancelled" if self.status == "running" else self.status,
            "content": self.content,
            "at": self.at,
            "visible": self.visible,
        }


class ToolEvent:
    """Base of the events a reply with tools yields to its turn."""

    def message(self, turn_id: int) -> ToolCall | ToolResult | None:
        return None


@dataclass(frozen=True, eq=False)
class ToolStarted(ToolEvent):
    run: ToolRun

    def message(self, turn_id: int) -> ToolCall:
        call = self.run.call
        return ToolCall(
            turn_id=turn_id, call_id=call.id, name=call.name, arguments=self.run.arguments()
        )


@dataclass(frozen=True, eq=False)
class ToolFinished(ToolEvent):
    run: ToolRun

    def message(self, turn_id: int) -> ToolResult:
        run = self.run
        return ToolResult(
            turn_id=turn_id,
            call_id=run.call.id,
            name=run.call.name,
            status="cancelled" if run.status in ("running", "client") else run.status,
            duration_ms=run.duration_ms,
            # As the model was told it: what JSON cannot encode is its str().
            result=(
                to_jsonable_python(run.result, fallback=str)
                if run.visible and run.status == "ok"
                else None
            ),
        )


@dataclass(frozen=True, eq=False)
class Pause(ToolEvent):
    """The reply pauses here (after a bridge): speak what was written so far."""
