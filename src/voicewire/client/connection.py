"""An async Python client for voicewire.v1, built on `websockets` and the protocol core."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.protocol import State

from voicewire.client.playback import PlaybackClock
from voicewire.client.turn_result import Event, OnEvent, TurnResult
from voicewire.protocol.errors import RESUMABLE_CLOSE_CODES
from voicewire.protocol.frames import AudioFrame, decode_frame
from voicewire.protocol.messages import (
    PROTOCOL_VERSION,
    AudioFormat,
    SessionReady,
    SessionResumed,
    SessionUpdated,
    TurnEnd,
    TurnStart,
    server_message_adapter,
)

# `Event`, `OnEvent` and `TurnResult` live in `turn_result`; imported from here too.
__all__ = ["Client", "Event", "OnEvent", "TurnResult"]


class Client:
    """`async with Client(url) as c: result = await c.ask("hi")`.

    `token` connects as that identity (else the server makes a guest); `conversation` resumes
    one. With `resume=True` (the default), a socket that drops is reopened at once with the
    session's resume token and the last `seq` received: the rest of a reply in flight arrives
    as if nothing happened (PROTOCOL.md §8); `resumes` counts these. With `reconnect=True`, a
    socket that dropped between turns is reopened on the next `send`, with the guest token and
    conversation from `session.ready`, so the conversation (and the server's memory of it)
    goes on. With `report_underruns=True` the caller plays each reply's audio in real time
    as it arrives (pcm16), and the gaps that playback would hear are sent to the server as
    `playback.underrun` (`underruns` counts them).
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        conversation: str | None = None,
        reconnect: bool = False,
        resume: bool = True,
        resume_attempts: int = 6,
        report_underruns: bool = False,
        **connect_kwargs: Any,
    ) -> None:
        self.url = url
        self.token = token
        self.conversation_id = conversation
        self.reconnect = reconnect
        self.resume = resume
        self.resume_attempts = resume_attempts
        self.reconnects = 0
        self.resumes = 0
        self.report_underruns = report_underruns
        self.underruns = 0
        self.resume_token: str | None = None
        self.last_seq = 0
        self._resuming = False  # reconnected; neither session.resumed nor .ready came yet
        self._failed_resumes = 0
        self._kwargs = connect_kwargs
        self._ws: ClientConnection | None = None
        self._settings: dict[str, Any] = {}  # session.update fields, replayed on reconnect
        self.ready: SessionReady | None = None
        self.audio: AudioFormat | None = None

    async def __aenter__(self) -> Client:
        await self.open()
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._ws is not None:
            await self._ws.close()

    def session_url(self, *, resume: bool = False) -> str:
        """`url` with the `token` and `conversation` (or `resume`) parameters this client holds."""
        parts = urlsplit(self.url)
        query = dict(parse_qsl(parts.query))
        if self.token:
            query["token"] = self.token
        if self.conversation_id:
            query["conversation"] = self.conversation_id
        if resume and self.resume_token:
            query["resume"] = self.resume_token
            query["last_seq"] = str(self.last_seq)
        return urlunsplit(parts._replace(query=urlencode(query)))

    async def open(self) -> SessionReady:
        """Open the socket and read `session.ready` (done by `async with`)."""
        await self._connect(resume=False)
        first = await self._receive()
        if not isinstance(first, SessionReady):
            raise RuntimeError(f"expected session.ready, got {first!r}")
        return first

    async def _connect(self, *, resume: bool) -> None:
        self._ws = await connect(
            self.session_url(resume=resume),
            subprotocols=[PROTOCOL_VERSION],  # type: ignore[list-item]
            **self._kwargs,
        )

    async def _resume(self, closed: ConnectionClosed) -> None:
        """Reopen the session after a drop; a server that cannot resume starts a new one.

        Backs off between attempts, also when the socket opens but drops again before the
        session is back (a busy server), and gives up after `resume_attempts` in a row.
        """
        while True:
            if self._failed_resumes >= self.resume_attempts:
                raise closed
            if self._failed_resumes:
                await asyncio.sleep(min(0.1 * 2 ** (self._failed_resumes - 1), 5.0))
            self._failed_resumes += 1
            try:
                await self._connect(resume=True)
                break
            except InvalidStatus as refused:
                if refused.response.status_code < 500:
                    raise closed from None  # refused: this session cannot be resumed by us
            except OSError:
                pass
        self.resumes += 1
        self._resuming = True

    @property
    def ws(self) -> ClientConnection:
        if self._ws is None:
            raise RuntimeError("the client is not connected: use `async with Client(url)`")
        return self._ws

    @property
    def connected(self) -> bool:
        return self._ws is not None and self._ws.state is State.OPEN

    async def send_json(self, message: dict[str, Any]) -> None:
        if message.get("type") == "session.update":
            self._settings.update({k: v for k, v in message.items() if k != "type"})
        await self.ws.send(json.dumps(message))

    async def send(
        self,
        text: str,
        *,
        voice: bool = True,
        message_id: str | None = None,
        voice_name: str | None = None,
        rate: float | None = None,
    ) -> str:
        """Send a user message; `voice_name` and `rate` apply to its reply alone."""
        message_id = message_id or uuid.uuid4().hex
        message: dict[str, Any] = {
            "type": "user.message",
            "id": message_id,
            "text": text,
            "voice": voice,
        }
        message.update({k: v for k, v in (("voice_name", voice_name), ("rate", rate)) if v})
        if self.reconnect and not self.connected:
            await self._reopen()
        try:
            await self.send_json(message)
        except ConnectionClosed:
            # The drop was only noticed now; the message never reached a live session.
            if not self.reconnect:
                raise
            await self._reopen()
            await self.send_json(message)
        return message_id

    async def _reopen(self) -> None:
        await self.open()
        self.reconnects += 1
        if self._settings:
            await self.send_json({"type": "session.update", **self._settings})

    async def cancel(self, turn_id: int, played_ms: int | None = None) -> None:
        message: dict[str, Any] = {"type": "turn.cancel", "turn_id": turn_id}
        if played_ms is not None:
            message["played_ms"] = played_ms
        await self.send_json(message)

    async def receive(self) -> Event:
        """The next event; a dropped socket is resumed on the way (with `resume=True`)."""
        while True:
            try:
                return await self._receive()
            except ConnectionClosed as closed:
                # No close frame at all is 1006: the connection dropped.
                code = closed.rcvd.code if closed.rcvd is not None else 1006
                if not (self.resume and self.resume_token and code in RESUMABLE_CLOSE_CODES):
                    raise
                await self._resume(closed)

    async def _receive(self) -> Event:
        data = await self.ws.recv()
        if isinstance(data, bytes):
            frame = decode_frame(data)
            self.last_seq = frame.seq
            return frame
        event = server_message_adapter.validate_json(data)
        if isinstance(event, SessionReady):
            # A new session (at start, or when a resume was not possible).
            self.ready = event
            self.token = event.guest_token or self.token
            self.conversation_id = event.conversation_id or self.conversation_id
            self.resume_token = event.resume_token
            if self._resuming and self._settings:
                # Not resumed: a new session, with the server's defaults again.
                await self.send_json({"type": "session.update", **self._settings})
        if isinstance(event, SessionReady | SessionResumed):
            self._resuming = False
            self._failed_resumes = 0
        elif self._resuming:
            return event  # not of the session (e.g. a busy server's error): keep last_seq
        if isinstance(event, SessionReady | SessionUpdated):
            self.audio = event.audio
        if not isinstance(event, SessionResumed):
            self.last_seq = event.seq
        return event

    async def events(self) -> AsyncIterator[Event]:
        while True:
            yield await self.receive()

    async def collect_turn(self, on_event: OnEvent | None = None) -> TurnResult:
        """Receive until the next `turn.end`; the result holds the whole turn.

        `on_event` sees each of the turn's events as it arrives (to print text as it streams).
        """
        result: TurnResult | None = None
        clock = PlaybackClock()
        while True:
            event = await self.receive()
            now = time.monotonic()
            if isinstance(event, TurnStart) and result is None:
                # A turn in a voice of another rate says so; its audio is in that format.
                audio = event.audio or self.audio or AudioFormat()
                result = TurnResult(event.turn_id, sample_rate=audio.sample_rate, codec=audio.codec)
            if result is None:
                continue
            result.events.append((now, event))
            if self.report_underruns and isinstance(event, AudioFrame) and result.codec == "pcm16":
                gap = clock.feed(now, len(event.payload) / 2 / result.sample_rate)
                if gap is not None and self.connected:
                    self.underruns += 1
                    await self.send_json(gap.message(result.turn_id))
            if on_event is not None:
                on_event(event)
            if isinstance(event, TurnEnd) and event.turn_id == result.turn_id:
                result.end = event
                return result
            if isinstance(event, SessionReady):
                # The session could not be resumed (`resume_unavailable` follows): the rest of
                # this reply is lost here; the turn ends as interrupted, with what arrived.
                result.end = TurnEnd(turn_id=result.turn_id, status="interrupted", text=result.text)
                return result

    async def ask(
        self,
        text: str,
        *,
        voice: bool = True,
        on_event: OnEvent | None = None,
        voice_name: str | None = None,
        rate: float | None = None,
    ) -> TurnResult:
        await self.send(text, voice=voice, voice_name=voice_name, rate=rate)
        return await self.collect_turn(on_event)
