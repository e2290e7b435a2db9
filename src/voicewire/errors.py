"""The one root of voicewire's exceptions, and the codes an error carries to the wire.

Every exception the package defines derives from `VoicewireError`, so an app embedding
voicewire can catch ours apart from everyone else's, and the server maps them in one place:
`code` is the `error` event's stable code, `close_code` the WebSocket close code when the error
ends the connection (None: it does not). A class declares its defaults on its class line,

    class LLMError(EngineError, RuntimeError, code=ErrorCode.LLM_FAILED): ...

and a raise site can override them: `raise StoreError("...", code=ErrorCode.INTERNAL)`.
Subclasses keep their built-in base (`ValueError`, `RuntimeError`) so that existing
`except ValueError:` handlers go on catching them.

This module imports nothing from the package at run time: the protocol core derives its errors
from it, and the protocol package imports its own modules eagerly.
"""

from __future__ import annotations

# typing.TYPE_CHECKING without importing typing at run time (mypy reads the name alike):
# `import voicewire` imports this module, and should cost next to nothing.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from voicewire.protocol.errors import CloseCode, ErrorCode

__all__ = ["ConfigError", "EngineError", "VoicewireError"]


class VoicewireError(Exception):
    """The root of every exception voicewire defines."""

    code: ErrorCode | None = None
    close_code: CloseCode | None = None

    def __init_subclass__(
        cls,
        *,
        code: ErrorCode | None = None,
        close_code: CloseCode | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        # Only what the class line says: otherwise the parent's defaults are inherited.
        if code is not None:
            cls.code = code
        if close_code is not None:
            cls.close_code = close_code

    def __init__(
        self,
        *args: object,
        code: ErrorCode | None = None,
        close_code: CloseCode | None = None,
    ) -> None:
        super().__init__(*args)
        if code is not None:
            self.code = code
        if close_code is not None:
            self.close_code = close_code


class ConfigError(VoicewireError):
    """The configuration asks for what cannot be had: an unknown engine, a missing extra."""


class EngineError(VoicewireError):
    """An engine (LLM, TTS, STT) failed or could not be loaded.

    A failing engine is the turn's failure (an `error` event, a `failed` reply), never the
    connection's: engine errors carry no close code.
    """
