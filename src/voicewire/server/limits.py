"""How many sessions may be open: in total, and per identity."""

from __future__ import annotations

import asyncio
from collections import Counter

from voicewire.protocol.errors import CloseCode, ErrorCode


class ConnectionLimits:
    """Counts open sessions, in total and per identity."""

    def __init__(self, total: int, per_identity: int) -> None:
        self.total, self.per_identity = total, per_identity
        self.open: Counter[str] = Counter()
        self.count = 0
        self._none_open = asyncio.Event()
        self._none_open.set()

    def acquire(self, subject: str) -> tuple[ErrorCode, CloseCode, str] | None:
        """Take a slot; or say why not (error code, close code, message)."""
        if self.count >= self.total:
            return ErrorCode.SERVER_BUSY, CloseCode.TRY_AGAIN_LATER, "the server is full"
        if self.open[subject] >= self.per_identity:
            message = f"more than {self.per_identity} open sessions for this identity"
            return ErrorCode.TOO_MANY_CONNECTIONS, CloseCode.TOO_MANY_CONNECTIONS, message
        self.open[subject] += 1
        self.count += 1
        self._none_open.clear()
        return None

    def release(self, subject: str) -> None:
        self.count -= 1
        self.open[subject] -= 1
        if self.open[subject] <= 0:
            del self.open[subject]
        if self.count <= 0:
            self._none_open.set()

    async def all_closed(self, timeout_s: float) -> bool:
        """Wait until no session is open, at most `timeout_s`; whether none is."""
        waiting = asyncio.ensure_future(self._none_open.wait())
        await asyncio.wait([waiting], timeout=timeout_s)
        waiting.cancel()
        return self.count <= 0
