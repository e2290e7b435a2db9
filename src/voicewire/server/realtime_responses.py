"""A `/v1/realtime` connection's responses: one started from the session's items, cancelled,
cut by a truncate, and settled as its turn ends.

`Responses` is the `TurnSink` of the connection's `TurnRunner`: a turn's end settles its items
(text, status, function calls) at once, before anything else can read them, then goes to the
outbox like every other event. It owns the runner; the connection reads and dispatches.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Protocol

from voicewire.protocol.messages import Error, ToolCall, TurnEnd, TurnStart, UserMessage
from voicewire.server import realtime_events as rt
from voicewire.server.conversation import Conversation
from voicewire.server.outbox import Outbox
from voicewire.server.realtime_framer import RealtimeFramer, Response
from voicewire.server.realtime_state import Config, Items
from voicewire.server.services import Services
from voicewire.server.turns import Spawn, TurnRunner, turn_options
from voicewire.turn import Outgoing, heard_text


class Refuse(Protocol):
    """Send an `error` event about a client event (`event`: the event it answers)."""

    def __call__(
        self, code: str, message: str, event: object = None, param: str | None = None
    ) -> None: ...


class Responses:
    def __init__(
        self,
        services: Services,
        config: Config,
        items: Items,
        framer: RealtimeFramer,
        out: Outbox,
        spawn: Spawn,
        problem: Refuse,
        *,
        identity: str,
    ) -> None:
        self.services, self.config, self.items = services, config, items
        self.framer, self.out, self.problem = framer, out, problem
        self.runner = TurnRunner(
            services, self, Conversation.open(services, "", []), spawn, identity=identity
        )
        self.turns = 0

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

    # -- responses ----------------------------------------------------------------------------
    async def respond(self, event: rt.ResponseCreate | None, *, user: str = "") -> None:
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

    async def cancel(self, event: rt.ResponseCancel | None, *, reason: str = "") -> None:
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

    async def cut(self, turn_id: int, audio_end_ms: int) -> None:
        await self.runner.cancel(turn_id, audio_end_ms)

    def amend(self, item: rt.Item, audio_end_ms: int) -> None:
        recorder = self.runner.conversation.recorder
        if recorder is not None and item.turn_id is not None:
            recorder.amend_reply(item.turn_id, text=item.text, played_ms=audio_end_ms)
