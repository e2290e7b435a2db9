"""An async Python client for voicewire.v1, built on `websockets` and the protocol core."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from voicewire.protocol.frames import AudioFrame, decode_frame
from voicewire.protocol.messages import (
    PROTOCOL_VERSION,
    Error,
    SegmentEnd,
    SegmentStart,
    ServerMessage,
    SessionReady,
    TextDelta,
    TurnEnd,
    TurnStart,
    server_message_adapter,
)

Event = ServerMessage | AudioFrame


@dataclass
class TurnResult:
    """Everything one turn sent, with the arrival time (monotonic s) of each item."""

    turn_id: int
    events: list[tuple[float, Event]] = field(default_factory=list)
    end: TurnEnd | None = None

    @property
    def text(self) -> str:
        return "".join(e.text for _, e in self.events if isinstance(e, TextDelta))

    @property
    def segments(self) -> list[tuple[SegmentStart, SegmentEnd | None, bytes]]:
        """Each segment's start, end and concatenated audio payload, in order."""
        starts: dict[int, SegmentStart] = {}
        ends: dict[int, SegmentEnd] = {}
        audio: dict[int, bytearray] = {}
        for _, e in self.events:
            if isinstance(e, SegmentStart):
                starts[e.segment_id] = e
            elif isinstance(e, SegmentEnd):
                ends[e.segment_id] = e
            elif isinstance(e, AudioFrame):
                audio.setdefault(e.segment_id, bytearray()).extend(e.payload)
        return [(s, ends.get(i), bytes(audio.get(i, b""))) for i, s in sorted(starts.items())]

    @property
    def audio(self) -> bytes:
        return b"".join(a for _, _, a in self.segments)

    @property
    def errors(self) -> list[Error]:
        return [e for _, e in self.events if isinstance(e, Error)]


class Client:
    """`async with Client(url) as c: result = await c.ask("hi")`."""

    def __init__(self, url: str, **connect_kwargs: Any) -> None:
        self.url = url
        self._kwargs = connect_kwargs
        self._ws: ClientConnection | None = None
        self.ready: SessionReady | None = None

    async def __aenter__(self) -> Client:
        self._ws = await connect(self.url, subprotocols=[PROTOCOL_VERSION], **self._kwargs)  # type: ignore[list-item]
        first = await self.receive()
        if not isinstance(first, SessionReady):
            raise RuntimeError(f"expected session.ready, got {first!r}")
        self.ready = first
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._ws is not None:
            await self._ws.close()

    @property
    def ws(self) -> ClientConnection:
        if self._ws is None:
            raise RuntimeError("the client is not connected: use `async with Client(url)`")
        return self._ws

    async def send_json(self, message: dict[str, Any]) -> None:
        import json

        await self.ws.send(json.dumps(message))

    async def send(self, text: str, *, voice: bool = True, message_id: str | None = None) -> str:
        message_id = message_id or uuid.uuid4().hex
        await self.send_json(
            {"type": "user.message", "id": message_id, "text": text, "voice": voice}
        )
        return message_id

    async def cancel(self, turn_id: int, played_ms: int | None = None) -> None:
        message: dict[str, Any] = {"type": "turn.cancel", "turn_id": turn_id}
        if played_ms is not None:
            message["played_ms"] = played_ms
        await self.send_json(message)

    async def receive(self) -> Event:
        data = await self.ws.recv()
        if isinstance(data, bytes):
            return decode_frame(data)
        return server_message_adapter.validate_json(data)

    async def events(self) -> AsyncIterator[Event]:
        while True:
            yield await self.receive()

    async def collect_turn(self) -> TurnResult:
        """Receive until the next `turn.end`; the result holds the whole turn."""
        result: TurnResult | None = None
        while True:
            event = await self.receive()
            now = time.monotonic()
            if isinstance(event, TurnStart) and result is None:
                result = TurnResult(event.turn_id)
            if result is None:
                continue
            result.events.append((now, event))
            if isinstance(event, TurnEnd) and event.turn_id == result.turn_id:
                result.end = event
                return result

    async def ask(self, text: str, *, voice: bool = True) -> TurnResult:
        await self.send(text, voice=voice)
        return await self.collect_turn()
