"""The WebSocket glue: frames in → Session → turns → frames out. Thin by design.

One reader (this coroutine), one writer task that owns the socket's send side, and at most one
running turn. Everything that leaves goes through the writer's bounded queue, where the Session
stamps `seq` at the moment of sending, so `seq` order is wire order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from voicewire.codecs import CODECS, SAMPLE_RATES, make_encoder
from voicewire.llm.base import ChatMessage
from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.messages import (
    PROTOCOL_VERSION,
    AudioFormat,
    Error,
    Limits,
    Ping,
    Pong,
    ServerMessage,
    SessionUpdate,
    TurnCancel,
    TurnEnd,
    TurnStart,
    UserMessage,
)
from voicewire.protocol.session import Session, Violation
from voicewire.responder import TurnContext
from voicewire.server.auth import InvalidToken
from voicewire.server.persist import Recorder
from voicewire.turn import AudioOut, Outgoing, Turn, TurnOptions

if TYPE_CHECKING:
    from voicewire.server.app import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Close:
    code: int
    reason: str


_Item = ServerMessage | AudioOut | _Close


class Connection:
    def __init__(self, websocket: WebSocket, services: Services) -> None:
        self.ws = websocket
        self.services = services
        s = services.settings
        tts = services.tts
        self.session = Session(
            uuid.uuid4().hex,
            audio=AudioFormat(sample_rate=tts.sample_rate),
            voices=tts.voices,
            codecs=CODECS,
            sample_rates=SAMPLE_RATES | {tts.sample_rate},
            limits=Limits(
                max_text_frame_bytes=s.max_text_frame_bytes,
                max_message_chars=s.max_message_chars,
                max_messages_per_second=s.max_messages_per_second,
            ),
        )
        self.out: asyncio.Queue[_Item] = asyncio.Queue(maxsize=s.send_queue_frames)
        self.history: list[ChatMessage] = []
        self.turn: Turn | None = None
        self.turn_task: asyncio.Task[None] | None = None
        self.played_ms: dict[int, int] = {}
        self.dropped: set[int] = set()  # cancelled turns whose queued audio is discarded
        self.recorder: Recorder | None = None
        self.identity: str | None = None

    async def run(self) -> None:
        if PROTOCOL_VERSION not in self.ws.scope.get("subprotocols", []):
            # Refused before accept: the browser sees a failed handshake (HTTP 403).
            await self.ws.close(CloseCode.POLICY, f"subprotocol {PROTOCOL_VERSION} required")
            return
        opened = await self._open_conversation()
        if opened is None:
            await self.ws.close(CloseCode.POLICY, "invalid token or conversation")
            return
        await self.ws.accept(subprotocol=PROTOCOL_VERSION)
        writer = asyncio.create_task(self._write())
        try:
            ready = self.session.ready_message()
            self.out.put_nowait(
                ready.model_copy(update={"conversation_id": opened[0], "guest_token": opened[1]})
            )
            await self._read(writer)
        finally:
            await self._cancel_turn()
            if not writer.done():
                self.out.put_nowait(_Close(CloseCode.NORMAL, ""))
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(writer), 1.0)
                writer.cancel()
            self.session.close()

    async def _open_conversation(self) -> tuple[str, str | None] | None:
        """Who is connecting, and which conversation; None when the handshake must fail."""
        services, params = self.services, self.ws.query_params
        guest_token = None
        token = params.get("token")
        if token:
            try:
                identity = services.signer.verify(token)
            except InvalidToken:
                return None
        else:
            identity, guest_token = services.signer.new_guest()
        self.identity = identity.subject
        store = services.store
        if store is None:
            return "", guest_token
        owner = await store.identity(identity.kind, identity.subject)
        conversation = params.get("conversation")
        if conversation:
            if await store.conversation_owner(conversation) != owner:
                return None  # the same refusal whether it is missing or someone else's
            keep = services.settings.history_messages
            self.history = [
                ChatMessage("user" if role == "user" else "assistant", text)
                for role, text in await store.history(conversation, keep)
            ]
        else:
            conversation = await store.new_conversation(owner)
        self.recorder = Recorder(store, services.writes, conversation)
        return conversation, guest_token

    async def _read(self, writer: asyncio.Task[None]) -> None:
        while not writer.done():
            try:
                message = await self.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                inbound = self.session.receive_text(message["text"])
            else:
                inbound = self.session.receive_bytes(message.get("bytes") or b"")
            for item in inbound:
                if isinstance(item, Violation):
                    await self.out.put(item.error)
                    if item.close_code is not None:
                        await self.out.put(_Close(item.close_code, item.error.code))
                        await writer
                        return
                else:
                    await self._handle(item)

    async def _handle(self, message: object) -> None:
        if isinstance(message, UserMessage):
            await self._start_turn(message)
        elif isinstance(message, TurnCancel):
            if self.turn is not None and self.turn.turn_id == message.turn_id:
                if message.played_ms is not None:
                    self.played_ms[message.turn_id] = message.played_ms
                await self._cancel_turn()
        elif isinstance(message, SessionUpdate):
            await self.out.put(self.session.updated_message())
        elif isinstance(message, Ping):
            await self.out.put(Pong(id=message.id))

    async def _start_turn(self, message: UserMessage) -> None:
        # Barge-in policy: a new user message interrupts the turn that is still running.
        await self._cancel_turn()
        s = self.session.settings
        turn_id = self.session.new_turn()
        voice = message.voice and s.voice
        recorded = None
        if self.recorder is not None:
            recorded = asyncio.create_task(
                self.recorder.user_message(
                    message.text, client_id=message.id, turn_id=turn_id, spoken=voice
                )
            )
        gate = _StartGate(self.out.put, TurnStart(turn_id=turn_id, reply_to=message.id), recorded)
        self.history.append(ChatMessage("user", message.text))
        keep = self.services.settings.history_messages
        context = TurnContext(
            text=message.text,
            history=list(self.history[-keep:]),
            llm=self.services.llm,
            identity=self.identity,
        )
        turn = Turn(
            turn_id,
            self.services.responder,
            context,
            self.services.tts,
            gate.emit,
            TurnOptions(
                voice=voice,
                voice_name=s.voice_name,
                rate=s.rate,
                frame_ms=self.services.settings.frame_ms,
                encoder=partial(
                    make_encoder, s.audio.codec, self.services.tts.sample_rate, s.audio.sample_rate
                ),
            ),
        )
        self.turn = turn
        self.turn_task = asyncio.create_task(self._run_turn(turn, gate))

    async def _run_turn(self, turn: Turn, gate: _StartGate) -> None:
        try:
            await turn.run()
        except asyncio.CancelledError:
            turn.status = "interrupted"
        except Exception:
            log.exception("turn %d failed", turn.turn_id)
            turn.status = "failed"
            await self.out.put(
                Error(code=ErrorCode.INTERNAL, message="internal error", turn_id=turn.turn_id)
            )
        finally:
            await gate.open()
            if gate.failed:
                turn.status = "failed"
            if turn.text:
                self.history.append(ChatMessage("assistant", turn.text))
            end = TurnEnd(
                turn_id=turn.turn_id,
                status=turn.status,
                text=turn.text,
                played_ms=self.played_ms.pop(turn.turn_id, None),
            )
            if self.recorder is not None:
                self.recorder.finish_reply(
                    turn.turn_id,
                    text=turn.text,
                    status=turn.status,
                    played_ms=end.played_ms,
                    spoken=turn.options.voice,
                    data=[{"kind": d.kind, "payload": d.payload} for d in turn.data],
                )
            # Not awaited through a full queue when cancelled: the end must always be queued.
            if turn.status == "interrupted":
                self._put_priority(end)
            else:
                await self.out.put(end)
            if self.turn is turn:
                self.turn = None

    def _put_priority(self, item: _Item) -> None:
        try:
            self.out.put_nowait(item)
        except asyncio.QueueFull:
            # Drop this turn's queued audio to make room; nothing of it may follow turn.end.
            kept = [
                i
                for i in _drain(self.out)
                if not (isinstance(i, AudioOut) and i.turn_id in self.dropped)
            ]
            for i in kept:
                self.out.put_nowait(i)
            self.out.put_nowait(item)

    async def _cancel_turn(self) -> None:
        task, turn = self.turn_task, self.turn
        if task is None or task.done() or turn is None:
            return
        self.dropped.add(turn.turn_id)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _write(self) -> None:
        ws, session = self.ws, self.session
        try:
            while True:
                item = await self.out.get()
                if isinstance(item, _Close):
                    if ws.application_state == WebSocketState.CONNECTED:
                        await ws.close(item.code, item.reason)
                    return
                if isinstance(item, AudioOut):
                    if item.turn_id in self.dropped or not session.is_running(item.turn_id):
                        continue
                    await ws.send_bytes(
                        session.audio(
                            item.turn_id,
                            item.segment_id,
                            item.payload,
                            sample_offset=item.sample_offset,
                            flags=item.flags,
                        )
                    )
                else:
                    await ws.send_text(session.send(item))
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            log.debug("writer stopped: %r", exc)


class _StartGate:
    """Holds a turn's frames back until its user message is committed.

    The LLM starts at once, so the commit's few milliseconds hide behind its first-token
    latency; but nothing of the reply — not even `turn.start` — is sent before the question it
    answers is stored.
    """

    def __init__(
        self,
        put: Callable[[_Item], Awaitable[None]],
        start: TurnStart,
        recorded: asyncio.Task[None] | None,
    ) -> None:
        self.put = put
        self.start = start
        self.recorded = recorded
        self.opened = False
        self.failed = False

    async def open(self) -> None:
        if self.opened:
            return
        self.opened = True
        if self.recorded is not None:
            try:
                await self.recorded
            except Exception:
                log.exception("storing the user message failed")
                self.failed = True
        await self.put(self.start)

    async def emit(self, item: Outgoing) -> None:
        await self.open()
        if self.failed:
            raise RuntimeError("the user message could not be stored")
        await self.put(item)


def _drain(queue: asyncio.Queue[_Item]) -> list[_Item]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
