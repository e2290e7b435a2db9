"""Compatibility endpoint `/ws/voice-chat/` for frontends written like the seed's.

It speaks the seed's message shapes (docs/compat.md) over a plain WebSocket (no subprotocol):
`{"usr_query", "is_voice"?}` in; JSON text frames out, always — `voice` (one independently
playable base64 MP3 per spoken segment, with its text), `text` (text-only replies, app data,
text left unspoken), `error`, and `end` once a reply has ended. It is a thin adapter: the
admission, the limits, the turns (`TurnRunner`) and the send side (`Outbox`) are those of `/ws`;
only `SeedShapes` — turn events to the seed's JSON — and the query parser are its own.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.types import Message

from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.messages import (
    Data,
    Error,
    SegmentEnd,
    SegmentStart,
    ServerMessage,
    TextDelta,
    TurnEnd,
    TurnStart,
    UserMessage,
)
from voicewire.protocol.session import Session
from voicewire.protocol.state import RateWindow
from voicewire.server.conversation import Conversation
from voicewire.server.handshake import Admission, admitted, open_conversation
from voicewire.server.inbound import Inbound
from voicewire.server.outbox import Close, session_outbox
from voicewire.server.services import Services
from voicewire.server.turns import TurnRunner, turn_options
from voicewire.turn import AudioOut

log = logging.getLogger(__name__)
router = APIRouter()


def _json(message: dict[str, Any]) -> str:
    return json.dumps(message)


@router.websocket("/ws/voice-chat/")
async def voice_chat(websocket: WebSocket) -> None:
    """The same handshake policy and limits as `/ws` (PROTOCOL.md §0, §5), in the seed's shapes."""
    services: Services = websocket.app.state.services

    def refusal(code: ErrorCode, message: str) -> str:
        return _json({"type": "error", "code": code, "message": message})

    async with admitted(websocket, services, subprotocol=None, refusal=refusal) as admission:
        if admission is not None:
            await CompatChat(websocket, services, admission).run()


class SeedShapes:
    """Turn events → the seed's JSON messages. A segment's audio is gathered into one MP3."""

    def __init__(self) -> None:
        self.text = ""  # the running turn's text so far
        self.shown = 0  # characters of it already sent
        self.end = 0  # where the current segment ends
        self.audio = bytearray()

    def frame(self, item: ServerMessage | AudioOut) -> Sequence[str]:
        if isinstance(item, TurnStart):
            self.text, self.shown, self.end = "", 0, 0
        elif isinstance(item, TextDelta):
            self.text += item.text
        elif isinstance(item, SegmentStart):
            self.audio.clear()
            self.end = item.char_end
        elif isinstance(item, AudioOut):
            self.audio.extend(item.payload)
        elif isinstance(item, SegmentEnd):
            # The segment's text, plus any unspeakable text (emoji) skipped before it.
            text, self.shown = self.text[self.shown : self.end].strip(), self.end
            if self.audio:
                audio = base64.b64encode(self.audio).decode("ascii")
                return [_json({"type": "voice", "audio": audio, "text": text})]
            if text:
                return [_json({"type": "text", "text": text})]
        elif isinstance(item, Data):
            return [_json({"type": "text", "content": item.payload, "kind": item.kind})]
        elif isinstance(item, Error):
            return [_json({"type": "error", "code": item.code, "message": item.message})]
        elif isinstance(item, TurnEnd):
            return self._end(item)
        return ()

    def _end(self, end: TurnEnd) -> list[str]:
        frames = []
        # Text-only replies, and whatever the voice left unspoken (a trailing code block, the
        # rest after a TTS failure), go out as one text message; not what an interruption cut.
        rest = self.text[self.shown :].strip()
        if rest and end.status != "interrupted":
            frames.append(_json({"type": "text", "text": rest}))
        # Not in the seed's shapes, and ignored by its frontend (no text, no audio): tells
        # newer clients that the reply has ended, and how.
        frames.append(_json({"type": "end", "status": end.status}))
        return frames


class CompatChat:
    """One connection: reads queries, runs one turn at a time (a new query interrupts it)."""

    def __init__(self, ws: WebSocket, services: Services, admission: Admission) -> None:
        self.ws, self.services, self.admission = ws, services, admission
        s = services.settings
        self.session = Session(uuid.uuid4().hex)  # names the connection in logs
        self.out = session_outbox(ws, self.session, services, framer=SeedShapes().frame)
        self.tg = asyncio.TaskGroup()
        self.runner = TurnRunner(
            services,
            self.out,
            Conversation.open(services, "", []),
            self.tg.create_task,
            identity=admission.identity.subject,
        )
        self.inbound = Inbound(
            ws,
            self.out,
            self.dispatch,
            idle_timeout_s=s.idle_timeout_s,
            busy=lambda: self.runner.running is not None,
        )
        self.rate = RateWindow(s.max_messages_per_second)
        self.turns = 0

    async def run(self) -> None:
        opened = await open_conversation(self.admission, self.services)
        self.runner.conversation = Conversation.open(
            self.services, opened.conversation_id, opened.history
        )
        async with self.tg:
            writer = self.tg.create_task(self.out.run())
            try:
                await self.inbound.run()
            finally:
                await self.runner.cancel()
                await self.out.finish(writer)

    async def dispatch(self, message: Message) -> bool:
        """Handle one query; False when the connection must close."""
        if self.rate.exceeded(time.monotonic()):
            limit = self.services.settings.max_messages_per_second
            text = f"more than {limit} messages per second"
            self.out.put_now(Error(code=ErrorCode.RATE_LIMITED, message=text))
            self.out.put_now(Close(CloseCode.RATE_LIMITED, ErrorCode.RATE_LIMITED))
            return False
        parsed = self._parse(message.get("text"))
        if isinstance(parsed, str):
            self.out.put_now(Error(code=ErrorCode.INVALID_MESSAGE, message=parsed))
            return True
        query, voice = parsed
        self.turns += 1
        rate = self.services.tts.sample_rate  # mp3 at the voice's rate (or the nearest)
        options = turn_options(self.services, voice=voice, codec="mp3", sample_rate=rate)
        user = UserMessage(id=uuid.uuid4().hex, text=query, voice=voice)
        await self.runner.start(user, self.turns, options)
        return True

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
