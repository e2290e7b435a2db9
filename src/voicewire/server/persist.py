"""What a connection writes to the store, kept off the path of text and audio frames.

The user message is committed before its turn starts (so it survives anything that follows);
the reply row is opened and closed by background tasks that the app awaits on shutdown, so a
slow database never delays a frame.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from voicewire.protocol.messages import TurnStatus
from voicewire.storage import Store

log = logging.getLogger(__name__)


class Writes:
    """Background database writes of the whole app; `drain()` waits for all of them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("database write failed", exc_info=task.exception())

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


class Recorder:
    """One connection's writes: its conversation, user messages, and replies."""

    def __init__(self, store: Store, writes: Writes, conversation_id: str) -> None:
        self.store = store
        self.writes = writes
        self.conversation_id = conversation_id
        self._replies: dict[int, asyncio.Task[str]] = {}

    async def user_message(self, text: str, *, client_id: str, turn_id: int, spoken: bool) -> None:
        await self.store.add_user_message(
            self.conversation_id, text, client_id=client_id, turn_id=turn_id
        )
        self._replies[turn_id] = self.writes.spawn(
            self.store.begin_reply(self.conversation_id, turn_id=turn_id, spoken=spoken)
        )

    def finish_reply(
        self,
        turn_id: int,
        *,
        text: str,
        status: TurnStatus,
        played_ms: int | None,
        spoken: bool,
        data: list[dict[str, Any]],
    ) -> None:
        begun = self._replies.pop(turn_id, None)
        if begun is None:
            return

        async def finish() -> None:
            message_id = await begun
            await self.store.finish_reply(
                message_id, text=text, status=status, played_ms=played_ms, spoken=spoken, data=data
            )

        self.writes.spawn(finish())
