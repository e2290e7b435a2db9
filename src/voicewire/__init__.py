"""voicewire: stream a chatbot's reply as text and speech together over one WebSocket.

The public API is what `__all__` names; everything else lives in private-by-convention modules
that may change. The server and the client are imported on first use of their names, so that
`import voicewire` (e.g. for a responder's `TurnContext`) does not load FastAPI, SQLAlchemy or
the engines.
"""

from __future__ import annotations

import importlib

from voicewire.errors import VoicewireError

TYPE_CHECKING = False  # as in errors.py: typing is not imported at run time
if TYPE_CHECKING:
    from typing import Any

    from voicewire.client import Client, TurnResult
    from voicewire.config import Settings
    from voicewire.llm.base import ChatMessage
    from voicewire.responder import DataItem, Responder, TurnContext
    from voicewire.server.app import create_app, voicewire_lifespan

__version__ = "0.1.0"
__all__ = [
    "ChatMessage",
    "Client",
    "DataItem",
    "Responder",
    "Settings",
    "TurnContext",
    "TurnResult",
    "VoicewireError",
    "__version__",
    "create_app",
    "voicewire_lifespan",
]

# Public name → the module that defines it, imported when the name is first used.
_LAZY = {
    "ChatMessage": "voicewire.llm.base",
    "Client": "voicewire.client",
    "DataItem": "voicewire.responder",
    "Responder": "voicewire.responder",
    "Settings": "voicewire.config",
    "TurnContext": "voicewire.responder",
    "TurnResult": "voicewire.client",
    "create_app": "voicewire.server.app",
    "voicewire_lifespan": "voicewire.server.app",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'voicewire' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
