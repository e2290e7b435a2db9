"""Tools in a spoken turn: the model calls the app's functions mid-reply (docs/apps.md)."""

from voicewire.tools.events import ToolEvent, ToolFinished, ToolRun, ToolStarted
from voicewire.tools.loop import tool_reply
from voicewire.tools.registry import DEFAULT_BRIDGE, Tool, Toolbox, tool

__all__ = [
    "DEFAULT_BRIDGE",
    "Tool",
    "ToolEvent",
    "ToolFinished",
    "ToolRun",
    "ToolStarted",
    "Toolbox",
    "tool",
    "tool_reply",
]
