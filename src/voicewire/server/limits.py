"""How many sessions may be open: in total, and per identity."""

from __future__ import annotations

from collections import Counter

from voicewire.protocol.errors import CloseCode, ErrorCode


class ConnectionLimits:
    """Counts open sessions, in total and per identity."""

    def __init__(self, total: int, per_identity: int) -> None:
        self.total, self.per_identity = total, per_identity
        self.open: Counter[str] = Counter()
        self.count = 0

    def acquire(self, subject: str) -> tuple[ErrorCode, CloseCode, str] | None:
        """Take a slot; or say why not (error code, close code, message)."""
        if self.count >= self.total:
            return ErrorCode.SERVER_BUSY, CloseCode.TRY_AGAIN_LATER, "the server is full"
        if self.open[subject] >= self.per_identity:
            message = f"more than {self.per_identity} open sessions for this identity"
            return ErrorCode.TOO_MANY_CONNECTIONS, CloseCode.TOO_MANY_CONNECTIONS, message
        self.open[subject] += 1
        self.count += 1
        return None

    def release(self, subject: str) -> None:
        self.count -= 1
        self.open[subject] -= 1
        if self.open[subject] <= 0:
            del self.open[subject]
