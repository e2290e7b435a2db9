"""An in-process WebSocket peer for interleavings a real socket cannot pin down.

The server side is the real one: a Starlette `WebSocket` over this peer's ASGI `receive` and
`send`, handed to the real `Connection`. The peer decides what arrives when, and can stall the
server's sends (a client that stops reading) and release them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.types import Message
from starlette.websockets import WebSocket

from voicewire.protocol.frames import AudioFrame, decode_frame
from voicewire.protocol.messages import PROTOCOL_VERSION
from voicewire.server.ws import Connection

Event = dict[str, Any] | AudioFrame


class Peer:
    def __init__(self, query: str = "") -> None:
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.inbox.put_nowait({"type": "websocket.connect"})
        self.events: list[Event] = []
        self.arrived = asyncio.Condition()
        self.flowing = asyncio.Event()  # cleared: the server's sends wait (a stalled reader)
        self.flowing.set()
        self.closed: int | None = None
        self.scope = {
            "type": "websocket",
            "path": "/ws",
            "query_string": query.encode(),
            "headers": [(b"host", b"testserver")],
            "subprotocols": [PROTOCOL_VERSION],
        }

    async def receive(self) -> Message:
        return await self.inbox.get()

    async def send(self, message: Message) -> None:
        if message["type"] == "websocket.send":
            await self.flowing.wait()
            text = message.get("text")
            event: Event = json.loads(text) if text is not None else decode_frame(message["bytes"])
            async with self.arrived:
                self.events.append(event)
                self.arrived.notify_all()
        elif message["type"] == "websocket.close":
            async with self.arrived:
                self.closed = message.get("code", 1000)
                self.arrived.notify_all()

    def say(self, **message: Any) -> None:
        self.inbox.put_nowait({"type": "websocket.receive", "text": json.dumps(message)})

    def leave(self, code: int = 1000) -> None:
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": code})

    async def wait_for(self, kind: str, **fields: Any) -> dict[str, Any]:
        """The first event of `kind` with `fields` (waiting for it to arrive)."""
        async with self.arrived:
            while True:
                for event in self.events:
                    if (
                        isinstance(event, dict)
                        and event.get("type") == kind
                        and all(event.get(k) == v for k, v in fields.items())
                    ):
                        return event
                await self.arrived.wait()

    def of_turn(self, turn_id: int) -> list[Event]:
        return [
            e
            for e in self.events
            if (e.turn_id if isinstance(e, AudioFrame) else e.get("turn_id")) == turn_id
        ]


def start(app: FastAPI, peer: Peer) -> tuple[Connection, asyncio.Task[None]]:
    """Run a real `Connection` of `app` (its lifespan open already) against `peer`."""
    socket = WebSocket(peer.scope | {"app": app}, peer.receive, peer.send)
    connection = Connection(socket, app.state.services)
    return connection, asyncio.create_task(connection.run())


@contextlib.asynccontextmanager
async def connected(
    app: FastAPI, peer: Peer
) -> AsyncIterator[tuple[Connection, asyncio.Task[None]]]:
    """Run a real `Connection` of `app` (its lifespan open) against `peer`."""
    async with app.router.lifespan_context(app):
        connection, task = start(app, peer)
        try:
            yield connection, task
        finally:
            if not task.done():
                peer.flowing.set()
                peer.leave()
                await asyncio.wait_for(task, 30)
