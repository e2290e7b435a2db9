"""`/v1/realtime`: the OpenAI Realtime protocol (GA dialect) over voicewire's turns.

A thin adapter (docs/realtime.md): admission, limits, turns (`TurnRunner`), the send side
(`Outbox`) and the microphone are those of `/ws`; its own parts are the wire shapes
(`realtime_events`), the framer (`realtime_framer`), the session's items (`realtime_state`),
its responses (`realtime_responses`, the turns' sink), and this connection, which maps client
events onto them. One task group owns its tasks:

    RealtimeConnection.serve()
     └─ TaskGroup
         ├─ writer   Outbox.run()     every frame out, turn events framed by RealtimeFramer
         ├─ reader   Inbound.run()    client events in, handled one at a time, in order
         └─ turn     TurnRunner       at most one response
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from functools import partial

from fastapi import APIRouter, WebSocket
from starlette.types import Message

from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.messages import Error
from voicewire.protocol.session import Session
from voicewire.protocol.state import RateWindow
from voicewire.server import realtime_events as rt
from voicewire.server.conversation import Conversation
from voicewire.server.handshake import Admission, admitted, open_conversation
from voicewire.server.inbound import Inbound
from voicewire.server.outbox import Close, Raw, session_outbox
from voicewire.server.realtime_framer import RealtimeFramer
from voicewire.server.realtime_input import InputBuffer
from voicewire.server.realtime_items import ItemEvents
from voicewire.server.realtime_responses import Responses
from voicewire.server.realtime_state import Config, Items
from voicewire.server.services import Services
from voicewire.server.voice_input import AudioFlood

log = logging.getLogger(__name__)
router = APIRouter()
KEY_PROTOCOL = "openai-insecure-api-key."


def api_key(ws: WebSocket) -> str | None:
    """The API key: `Authorization: Bearer`, or the subprotocol browsers use. "guest" (or
    none) asks for a guest, where the server allows them."""
    auth = ws.headers.get("authorization", "")
    key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    for offered in ws.scope.get("subprotocols", []):
        if offered.startswith(KEY_PROTOCOL):
            key = offered[len(KEY_PROTOCOL) :]
    return key if key and key != "guest" else None


@router.websocket("/v1/realtime")
async def realtime(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    offered = websocket.scope.get("subprotocols", [])

    def refusal(code: ErrorCode, message: str) -> str:
        return rt.error(rt.Problem(code, message), kind="server_error")

    async with admitted(
        websocket,
        services,
        subprotocol=None,
        refusal=refusal,
        token=api_key(websocket),
        answer="realtime" if "realtime" in offered else None,
    ) as admission:
        if admission is not None:
            await RealtimeConnection(websocket, services, admission).serve()


class RealtimeConnection:
    def __init__(self, ws: WebSocket, services: Services, admission: Admission) -> None:
        self.ws, self.services, self.admission = ws, services, admission
        s = services.settings
        self.session = Session(uuid.uuid4().hex)  # names the connection in logs
        self.items = Items(s.history_messages)
        self.framer = RealtimeFramer(self.items.before)
        self.out = session_outbox(ws, self.session, services, framer=self.framer.frame)
        self.tg = asyncio.TaskGroup()
        model = ws.query_params.get("model") or "voicewire"
        self.config = Config(model=model, voices=services.tts.voices or ("default",))
        self.responses = Responses(
            services,
            self.config,
            self.items,
            self.framer,
            self.out,
            self.tg.create_task,
            self.problem,
            identity=admission.identity.subject,
        )
        self.runner = self.responses.runner
        self.inbound = Inbound(
            ws,
            self.out,
            self.dispatch,
            idle_timeout_s=s.idle_timeout_s,
            busy=lambda: self.runner.running is not None,
        )

        def complain(problem: rt.Problem) -> None:
            self.out.put_now(Raw(rt.error(problem)))

        self.item_events = ItemEvents(
            self.items,
            self.send,
            complain,
            self.responses.cut,
            self.responses.amend,
            max_chars=s.max_message_chars,
        )
        self.rate = RateWindow(s.max_messages_per_second)
        self.input = InputBuffer(
            services,
            self.config,
            self.items,
            self.send,
            complain,
            self.out.put,
            respond=partial(self.responses.respond, None),
            interrupt=partial(self.responses.cancel, None, reason="turn_detected"),
        )

    # -- the connection ---------------------------------------------------------------------
    async def serve(self) -> None:
        async with self.tg:
            writer = self.tg.create_task(self.out.run())
            reader: asyncio.Task[None] | None = None
            try:
                try:
                    opened = await open_conversation(self.admission, self.services)
                except Exception:
                    log.exception(
                        "realtime %s: cannot open its conversation", self.session.session_id
                    )
                    self.out.put_now(
                        Raw(rt.error(rt.Problem("internal", "internal error"), kind="server_error"))
                    )
                    self.out.put_now(Close(CloseCode.INTERNAL, "internal error"))
                    return
                self.runner.conversation = Conversation.open(
                    self.services, opened.conversation_id, opened.history
                )
                self.items.load(opened.history)
                self.send("session.created", session=self.config.shape(self.session.session_id))
                reader = self.tg.create_task(self.inbound.run())
                gone = self.tg.create_task(self.out.gone.wait())
                await asyncio.wait({reader, gone}, return_when=asyncio.FIRST_COMPLETED)
                gone.cancel()
            finally:
                if reader is not None:
                    reader.cancel()
                await self.runner.cancel()
                await self.input.close()
                await self.out.finish(writer)

    def send(self, type_: str, **fields: object) -> None:
        self.out.put_now(Raw(rt.event(type_, **fields)))

    def problem(
        self, code: str, message: str, event: object = None, param: str | None = None
    ) -> None:
        event_id = getattr(event, "event_id", None)
        self.out.put_now(Raw(rt.error(rt.Problem(code, message, event_id, param))))

    async def dispatch(self, message: Message) -> bool:
        """Handle one client frame; False when the connection must close."""
        text = message.get("text")
        if text is None:
            self.problem("invalid_json", "send JSON text frames; binary frames are for /ws")
            return True
        settings = self.services.settings
        parsed = rt.parse(text)
        if isinstance(parsed, rt.Problem):
            self.out.put_now(Raw(rt.error(parsed)))
            return True
        if isinstance(parsed, rt.BufferAppend):
            try:  # bounded by the microphone's audio budget, not by the event rate
                await self.input.append(parsed)
            except AudioFlood as flood:
                self.out.put_now(Error(code=ErrorCode.RATE_LIMITED, message=str(flood)))
                self.out.put_now(Close(CloseCode.RATE_LIMITED, ErrorCode.RATE_LIMITED))
                return False
            return True
        if len(text) > settings.max_text_frame_bytes:
            limit = settings.max_text_frame_bytes
            self.problem("message_too_large", f"events are limited to {limit} bytes", parsed)
            return True
        if self.rate.exceeded(time.monotonic()):
            limit = settings.max_messages_per_second
            self.problem("rate_limited", f"more than {limit} events per second", parsed)
            self.out.put_now(Close(CloseCode.RATE_LIMITED, ErrorCode.RATE_LIMITED))
            return False
        await self.handle(parsed)
        return True

    async def handle(self, event: rt.ClientEvent) -> None:
        if isinstance(event, rt.SessionUpdate):
            problem = self.config.apply(event.session)
            if problem is not None:
                self.problem(problem.code, problem.message, event, problem.param)
            else:
                self.send("session.updated", session=self.config.shape(self.session.session_id))
        elif isinstance(event, rt.ResponseCreate):
            await self.responses.respond(event)
        elif isinstance(event, rt.ResponseCancel):
            await self.responses.cancel(event)
        elif isinstance(event, rt.BufferCommit):
            await self.input.commit(event)
        elif isinstance(event, rt.BufferClear):
            await self.input.clear()
        elif not isinstance(event, rt.BufferAppend):
            await self.item_events.handle(event)
