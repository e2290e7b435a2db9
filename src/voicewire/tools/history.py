"""A reply with tool calls as OpenAI chat messages, for the model's context on later turns.

A stored reply is its text and its calls, each at the offset of the text where it was made:

    text "Let me look. Two flats match."  calls [search@13]
    →  assistant "Let me look. " + tool_calls [search]
       tool (search's result)
       assistant "Two flats match."
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import groupby
from typing import Any

from voicewire.llm.base import ChatMessage, ToolCallRequest


def reply_messages(text: str, calls: Sequence[Mapping[str, Any]]) -> list[ChatMessage]:
    """The reply `text` with its stored `calls` (`ToolRun.record()` dicts) as chat messages."""
    out: list[ChatMessage] = []
    placed: list[tuple[int, Mapping[str, Any]]] = []
    done = 0
    for call in calls:  # offsets in order, within the text
        done = min(max(int(call.get("at", 0)), done), len(text))
        placed.append((done, call))
    done = 0
    for at, group in groupby(placed, key=lambda p: p[0]):
        step = [call for _, call in group]
        requests = tuple(
            ToolCallRequest(str(c["id"]), str(c["name"]), str(c.get("arguments") or "{}"))
            for c in step
        )
        out.append(ChatMessage("assistant", text[done:at], tool_calls=requests))
        out += [ChatMessage("tool", _content(c), tool_call_id=str(c["id"])) for c in step]
        done = at
    if text[done:] or not out:
        out.append(ChatMessage("assistant", text[done:]))
    return [m for m in out if m.content or m.tool_calls or m.role == "tool"]


def _content(call: Mapping[str, Any]) -> str:
    if call.get("status") == "cancelled":
        return '{"error": "cancelled: the user interrupted before the result came"}'
    if call.get("status") == "client":  # a Realtime client's function: its output stayed there
        return '{"note": "the client ran this function; its output was not kept"}'
    return str(call.get("content") or "")


def public(call: Mapping[str, Any]) -> dict[str, Any]:
    """A stored call as the client may see it (history API): what the tool returned only when
    the app marked it visible and it answered, as `tool.result` does."""
    shown = dict(call)
    if not (call.get("visible") and call.get("status") == "ok"):
        shown.pop("content", None)
    return shown


def whole(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """`messages` without tool results cut from their call (a bounded history drops the oldest)."""
    out = list(messages)
    start = 0
    while start < len(out) and out[start].role == "tool":
        start += 1
    return out[start:]
