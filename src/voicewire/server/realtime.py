"""`/v1/realtime`: the OpenAI Realtime protocol (GA dialect) over voicewire's turns.

A thin adapter (docs/realtime.md): admission, limits, turns (`TurnRunner`), the send side
(`Outbox`) and the microphone are those of `/ws`; its own parts are the wire shapes
(`realtime_events`), the framer (`realtime_framer`), the session's items (`realtime_state`),
and this connection, which maps client events onto them. One task group owns its tasks:

    RealtimeConnection.serve()
     └─ TaskGroup
         ├─ writer   Outbox.run()     every frame out, turn events framed by RealtimeFramer
         ├─ reader   Inbound.run()    client events in, handled one at a time, in order
         └─ turn     TurnRunner       at most one response
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from functools import partial

from fastapi import APIRouter, WebSocket
from starlette.types import Message

from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.messages import Error, ToolCall, TurnEnd, TurnStart, UserMessage
from voicewire.protocol.session import Session
from voicewire.protocol.state import RateWindow
from voicewire.server import realtime_events as rt
from voicewire.server.handshake import Admission, admitted, open_conversation
from voicewire.server.inbound import Inbound
from voicewire.server.outbox import Close, Raw, session_outbox
from voicewire.server.realtime_framer import RealtimeFramer, Response
from voicewire.server.realtime_input import InputBuffer
from voicewire.server.realtime_items import ItemEvents
from voicewire.server.realtime_state import Config, Items
from voicewire.server.services import Services
from voicewire.server.turns import Conversation, TurnRunner, turn_options
from voicewire.server.voice_input import AudioFlood
from voicewire.turn import Outgoing, heard_text

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
        self.runner = TurnRunner(
            services,
            self,  # a TurnSink: settles items at once, then queues for the framer
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
        model = ws.query_params.get("model") or "voicewire"
        self.config = Config(model=model, voices=services.tts.voices or ("default",))

        def complain(problem: rt.Problem) -> None:
            self.out.put_now(Raw(rt.error(problem)))

        self.item_events = ItemEvents(
            self.items,
            self.send,
            complain,
            self._cut,
            self._amend,
            max_chars=s.max_message_chars,
        )
        self.rate = RateWindow(s.max_messages_per_second)
        self.turns = 0
        self.input = InputBuffer(
            services,
            self.config,
            self.items,
            self.send,
            complain,
            self.out.put,
            respond=partial(self._respond, None),
            interrupt=partial(self._cancel, None, reason="turn_detected"),
        )

    # -- TurnSink: the turn's end settles its item before anything else can read it --------
    async def put(self, item: Outgoing | TurnStart) -> None:
        if isinstance(item, ToolCall):
            self._called(item)
        await self.out.put(item)

    def put_now(self, item: Error | TurnStart | TurnEnd) -> None:
        if isinstance(item, TurnEnd):
            response = self.framer.responses.get(item.turn_id)
            if response is not None:
                response.item.text = item.text
                response.item.status = "completed" if item.status == "complete" else "incomplete"
                if item.status != "complete":  # a cancelled response's calls are not run
                    for call in response.calls:
                        if call in self.items.items:
                            self.items.delete(call)
                    response.calls.clear()
                if response.calls and not item.text and response.item in self.items.items:
                    self.items.delete(response.item)  # only calls: no message item
        self.out.put_now(item)

    def _called(self, call: ToolCall) -> None:
        """The model called one of the client's functions: a function_call item."""
        response = self.framer.responses.get(call.turn_id)
        if response is None or not response.functions:
            return
        arguments = (
            call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
        )
        item = rt.Item(rt.new_id("item"), "assistant", "function_call", arguments)
        item.call_id, item.name = call.call_id, call.name
        self.items.add(item)
        response.calls.append(item)

    def drop(self, turn_id: int) -> None:
        self.out.drop(turn_id)

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
            await self._respond(event)
        elif isinstance(event, rt.ResponseCancel):
            await self._cancel(event)
        elif isinstance(event, rt.BufferCommit):
            await self.input.commit(event)
        elif isinstance(event, rt.BufferClear):
            await self.input.clear()
        elif not isinstance(event, rt.BufferAppend):
            await self.item_events.handle(event)

    # -- responses ----------------------------------------------------------------------------
    async def _respond(self, event: rt.ResponseCreate | None, *, user: str = "") -> None:
        if self.runner.running is not None:
            msg = "a response is in progress: cancel it first"
            self.problem("conversation_already_has_active_response", msg, event)
            return
        asked = event.response if event is not None else None
        instructions = self.config.instructions
        if asked is not None and asked.instructions is not None:
            instructions = asked.instructions
        conversation = self.runner.conversation.history
        # Room for the new user message too (the runner appends it).
        room = (conversation.maxlen or len(self.items.items) + 1) - 1
        history, pending = self.items.context(instructions, room)
        text = "\n".join(i.text for i in pending if i.text)
        follow_up = not text and self.items.answered()
        if follow_up:  # after the client's function outputs
            text = "(function output)"
            pending = [self.items.items[-1]]
        if not text:
            self.problem("no_user_message", "no user message to respond to", event)
            return
        modality = self.config.modality
        if asked is not None and asked.output_modalities is not None:
            modality = asked.output_modalities[0]
        audio = modality == "audio"
        self.turns += 1
        kind: rt.ItemKind = "output_audio" if audio else "output_text"
        item = rt.Item(rt.new_id("item"), "assistant", kind, status="in_progress")
        item.turn_id = self.turns
        self.items.add(item)
        tools = self.config.client_tools()
        self.framer.responses[self.turns] = Response(
            rt.new_id("resp"), item, audio, functions=tools is not None
        )
        conversation.clear()
        conversation.extend(history)
        options = turn_options(
            self.services,
            voice=audio,
            codec="pcm16",
            sample_rate=rt.OUTPUT_RATE,
            voice_name=self.config.voice,
            rate=self.config.speed,
        )
        self.out.turn_started(self.turns, voice=audio)
        message = UserMessage(id=pending[-1].id, text=text, voice=audio)
        await self.runner.start(
            message, self.turns, options, client_tools=tools, follow_up=follow_up
        )
        if self.runner.running is not None:
            item.heard = partial(heard_text, self.runner.running.turn)

    async def _cancel(self, event: rt.ResponseCancel | None, *, reason: str = "") -> None:
        running = self.runner.running
        response = self.framer.responses.get(running.turn.turn_id) if running else None
        if running is None or response is None:
            if event is not None:
                self.problem("response_cancel_not_active", "no response is in progress", event)
            return
        if event is not None and event.response_id not in (None, response.id):
            self.problem("invalid_value", "no such response in progress", event, "response_id")
            return
        response.reason = "turn_detected" if reason else "client_cancelled"
        # Cut to the audio sent: the client cannot have heard more (a truncate may cut more).
        played = response.item.sent_ms if response.audio else None
        await self.runner.cancel(running.turn.turn_id, played)

    async def _cut(self, turn_id: int, audio_end_ms: int) -> None:
        await self.runner.cancel(turn_id, audio_end_ms)

    def _amend(self, item: rt.Item, audio_end_ms: int) -> None:
        recorder = self.runner.conversation.recorder
        if recorder is not None and item.turn_id is not None:
            recorder.amend_reply(item.turn_id, text=item.text, played_ms=audio_end_ms)
