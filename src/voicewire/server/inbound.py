"""The client's side of a `/ws` socket: frames in, one at a time, in order.

While a resume replays the session's log, frames are held (`Relay.hold`) and handled, in order,
once the connection owns the session. The reader stops when the client goes (a close with 1000
means it is done: no resume), when it has been idle too long with nothing running, or when the
connection must close.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect

from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.messages import Error
from voicewire.server.outbox import Close, Outbox
from voicewire.server.relay import Relay, TooManyHeld

log = logging.getLogger(__name__)
Dispatch = Callable[[Message], Awaitable[bool]]  # False: the connection must close


class Inbound:
    def __init__(
        self,
        ws: WebSocket,
        out: Outbox,
        dispatch: Dispatch,
        *,
        idle_timeout_s: float,
        busy: Callable[[], bool],
    ) -> None:
        self.ws, self.out, self.dispatch = ws, out, dispatch
        self.idle_timeout_s = idle_timeout_s
        self.busy = busy  # a reply is running: a quiet client is not idle
        self.lock = asyncio.Lock()  # held while a frame (or the held ones) is handled
        self.relay: Relay | None = None  # while a resume replays: frames are held
        self.receiving = False  # waiting for a frame (the reader may be cancelled there)
        self.closed_by_client = False  # a close frame with 1000: the user is done
        self.stopped = False

    async def run(self) -> None:
        """The reader task."""
        try:
            while not self.stopped:
                message = await self._receive()
                if message is None:
                    return
                async with self.lock:
                    if self.relay is not None:
                        await self.relay.hold(message)
                    elif not await self.dispatch(message):
                        return
        except TooManyHeld:
            self.out.put_now(Close(CloseCode.RATE_LIMITED, ErrorCode.RATE_LIMITED))
        except Exception:
            # A bug: the details go to the log, the client gets a generic 1011.
            log.exception("session %s failed", self.out.session.session_id)
            self.out.put_now(Close(CloseCode.INTERNAL, "internal error"))

    async def _receive(self) -> Message | None:
        """The client's next frame; None when it went, or must go (idle)."""
        idle = self.idle_timeout_s
        self.receiving = True
        try:
            while True:
                try:
                    async with asyncio.timeout(idle):
                        message = await self.ws.receive()
                    break
                except TimeoutError:
                    if self.busy() or self.relay is not None:
                        continue  # a long reply is not idleness
                    text = f"no message for {idle:g} s"
                    self.out.put_now(Error(code=ErrorCode.IDLE_TIMEOUT, message=text))
                    self.out.put_now(Close(CloseCode.IDLE_TIMEOUT, ErrorCode.IDLE_TIMEOUT))
                    return None
        except (WebSocketDisconnect, RuntimeError) as exc:
            self.closed_by_client = getattr(exc, "code", None) == CloseCode.NORMAL
            return None
        finally:
            self.receiving = False
        if message["type"] == "websocket.disconnect":
            self.closed_by_client = message.get("code") == CloseCode.NORMAL
            return None
        return message
