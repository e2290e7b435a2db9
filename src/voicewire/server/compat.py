"""Compatibility endpoint `/ws/voice-chat/` for frontends written like the seed's.

It speaks the seed's message shapes (docs/compat.md) over a plain WebSocket (no subprotocol):
`{"usr_query", "is_voice"?}` in; JSON text frames out, always — `voice` (one independently
playable base64 MP3 per spoken segment, with its text), `text` (text-only replies, app data,
text left unspoken), `error`, and `end` once a reply is complete. Replies run through the same
`Turn` machinery as `/ws`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import uuid
from functools import partial
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from voicewire.codecs import make_encoder
from voicewire.llm.base import ChatMessage
from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.messages import Data, Error, SegmentEnd, SegmentStart
from voicewire.responder import TurnContext
from voicewire.server.auth import Identity, InvalidToken
from voicewire.server.handshake import origin_allowed
from voicewire.server.persist import Recorder
from voicewire.turn import AudioOut, Outgoing, Turn, TurnOptions

if TYPE_CHECKING:
    from voicewire.server.app import Services

log = logging.getLogger(__name__)
router = APIRouter()


@router.websocket("/ws/voice-chat/")
async def voice_chat(websocket: WebSocket) -> None:
    """The same handshake policy and limits as `/ws` (PROTOCOL.md §0, §5), in the seed's shapes."""
    services: Services = websocket.app.state.services
    settings = services.settings
    if not origin_allowed(websocket, settings.allowed_origins):
        await websocket.close(CloseCode.POLICY, "origin not allowed")
        return
    # Identity comes from the server's own token, never from the ids in the messages.
    token = websocket.query_params.get("token")
    try:
        identity = services.signer.verify(token) if token else services.signer.new_guest()[0]
    except InvalidToken:
        await websocket.close(CloseCode.POLICY, "invalid token")
        return
    if settings.require_token and identity.kind != "user":
        await websocket.close(CloseCode.POLICY, "a user token is required")
        return
    await websocket.accept()
    refused = services.connections.acquire(identity.subject)
    if refused is not None:
        code, close_code, message = refused
        await websocket.send_text(json.dumps({"type": "error", "code": code, "message": message}))
        await websocket.close(close_code, code)
        return
    services.metrics.sessions.inc()
    try:
        await CompatChat(websocket, services, identity).run()
    finally:
        services.metrics.sessions.dec()
        services.connections.release(identity.subject)


class CompatChat:
    """One connection: reads queries, runs one turn at a time (a new query interrupts it)."""

    def __init__(self, ws: WebSocket, services: Services, identity: Identity) -> None:
        self.ws = ws
        self.services = services
        self.identity = identity
        self.history: list[ChatMessage] = []
        self.recorder: Recorder | None = None
        self.task: asyncio.Task[None] | None = None
        self.turns = 0
        self._lock = asyncio.Lock()  # the turn task and the reader both send

    async def run(self) -> None:
        store = self.services.store
        if store is not None:
            owner = await store.identity(self.identity.kind, self.identity.subject)
            conversation = await store.new_conversation(owner)
            self.recorder = Recorder(
                store, self.services.writes, conversation, node=self.services.hub.node
            )
        idle = self.services.settings.idle_timeout_s
        try:
            while True:
                try:
                    async with asyncio.timeout(idle):
                        message = await self.ws.receive()
                except TimeoutError:
                    if self.task is not None and not self.task.done():
                        continue  # a long reply is not idleness
                    await self.send(
                        {
                            "type": "error",
                            "code": "idle_timeout",
                            "message": f"no message for {idle:g} s",
                        }
                    )
                    await self.ws.close(CloseCode.IDLE_TIMEOUT, ErrorCode.IDLE_TIMEOUT)
                    return
                if message["type"] == "websocket.disconnect":
                    return
                parsed = self._parse(message.get("text"))
                if isinstance(parsed, str):
                    await self.send({"type": "error", "message": parsed})
                    continue
                await self._stop_turn()
                self.task = asyncio.create_task(self._turn(*parsed))
        except (WebSocketDisconnect, RuntimeError):
            return
        finally:
            await self._stop_turn()

    def _parse(self, raw: str | None) -> tuple[str, bool] | str:
        """(query, voice), or what is wrong with the message."""
        settings = self.services.settings
        if raw is None:
            return "send JSON text frames, not binary ones"
        if len(raw) > settings.max_text_frame_bytes:
            return f"the message is larger than {settings.max_text_frame_bytes} bytes"
        try:
            obj = json.loads(raw)
        except ValueError:
            return "the message is not valid JSON"
        if not isinstance(obj, dict):
            return "the message must be a JSON object"
        query, voice = obj.get("usr_query"), obj.get("is_voice", True)
        if not isinstance(query, str) or not query.strip():
            return "usr_query (a non-empty string) is required"
        if len(query) > settings.max_message_chars:
            return f"usr_query is longer than {settings.max_message_chars} characters"
        if not isinstance(voice, bool):
            return "is_voice must be true or false"
        if obj.get("usr_id") or obj.get("guest_id"):
            log.debug("ids claimed by the client (not trusted): %r", obj.get("usr_id"))
        return query, voice

    async def send(self, message: dict[str, Any]) -> None:
        async with self._lock:
            await self.ws.send_text(json.dumps(message))

    async def _stop_turn(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _turn(self, query: str, voice: bool) -> None:
        services = self.services
        self.turns += 1
        turn_id = self.turns
        self.history.append(ChatMessage("user", query))
        history = self.history[-services.settings.history_messages :]
        context = TurnContext(query, history, services.llm, self.identity.subject)
        rate = services.tts.sample_rate  # mp3 at the TTS's rate (or the nearest MPEG rate)
        options = TurnOptions(
            voice=voice,
            frame_ms=services.settings.frame_ms,
            encoder=partial(make_encoder, "mp3", rate, rate),
        )
        shown = end = 0  # reply characters already sent; where the current segment ends
        audio = bytearray()

        async def emit(item: Outgoing) -> None:
            nonlocal shown, end
            if isinstance(item, SegmentStart):
                audio.clear()
                end = item.char_end
            elif isinstance(item, AudioOut):
                audio.extend(item.payload)
            elif isinstance(item, SegmentEnd):
                # The segment's text, plus any unspeakable text (emoji) skipped before it.
                text, shown = turn.text[shown:end].strip(), end
                if audio:
                    await self.send({"type": "voice", "audio": _b64(audio), "text": text})
                elif text:
                    await self.send({"type": "text", "text": text})
            elif isinstance(item, Data):
                await self.send({"type": "text", "content": item.payload, "kind": item.kind})
            elif isinstance(item, Error):
                await self.send({"type": "error", "message": item.message})

        turn = Turn(turn_id, services.responder, context, services.tts, emit, options)
        try:
            if self.recorder is not None:  # committed before the reply starts, as on /ws
                await self.recorder.user_message(
                    query, client_id=uuid.uuid4().hex, turn_id=turn_id, spoken=voice
                )
            await turn.run()
            # Text-only replies, and whatever the voice left unspoken (a trailing code block,
            # the rest after a TTS failure), go out as one text message.
            rest = turn.text[shown:].strip()
            if rest:
                await self.send({"type": "text", "text": rest})
            # Not in the seed's shapes, and ignored by its frontend (no text, no audio): tells
            # newer clients that the reply is complete.
            await self.send({"type": "end", "status": turn.status})
        except asyncio.CancelledError:
            turn.status = "interrupted"
            raise
        except Exception:
            log.exception("compat turn %d failed", turn_id)
            turn.status = "failed"
            with contextlib.suppress(Exception):
                await self.send({"type": "error", "message": "internal error"})
        finally:
            if turn.text:
                self.history.append(ChatMessage("assistant", turn.text))
            if self.recorder is not None:
                self.recorder.finish_reply(
                    turn_id,
                    text=turn.text,
                    status=turn.status,
                    played_ms=None,
                    spoken=voice,
                    data=[{"kind": d.kind, "payload": d.payload} for d in turn.data],
                )


def _b64(data: bytes | bytearray) -> str:
    return base64.b64encode(data).decode("ascii")
