"""A connection's turns, one at a time: start, cancel (with what was heard), end and record.

Shared by every endpoint (`/ws`, `/ws/voice-chat/`): each hands in a `TurnSink` that puts the
turn's events on its own wire, so barge-in and recording are written once, here (what a
turn records in its conversation: `conversation.py`).

A turn's task only generates (`Turn.run`). Its end — `turn.end` with the status and the text
that was heard, the reply's stored row, the history — is settled by `_settle`, which does not
await: it runs when the task returns, or after `cancel()` has cancelled and awaited it. So a
cancel arriving at any moment (while the turn waits on a full queue, in the start gate, or is
ending) never skips the end, and nothing of a turn is sent after its end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Protocol

from voicewire.codecs import make_encoder
from voicewire.protocol.errors import ErrorCode
from voicewire.protocol.messages import (
    AudioFormat,
    Codec,
    Data,
    Error,
    Notice,
    TextDelta,
    TurnEnd,
    TurnStart,
    UserMessage,
)
from voicewire.responder import TurnContext
from voicewire.server.conversation import Conversation
from voicewire.server.persist import StartGate
from voicewire.server.services import Services
from voicewire.server.speech_load import Slot, overloaded_notice
from voicewire.tools.client import ClientTools
from voicewire.tools.history import whole
from voicewire.tts.base import voice_rate
from voicewire.turn import Outgoing, Turn, TurnOptions, heard_text

log = logging.getLogger(__name__)
Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]


class TurnSink(Protocol):
    """Where a turn's events go: an endpoint's send side."""

    async def put(self, item: Outgoing | TurnStart) -> None:
        """Queue an event of a running turn (may wait: backpressure)."""

    def put_now(self, item: Error | TurnStart | TurnEnd) -> None:
        """Queue an event at once, without waiting (a turn's start, error and end)."""

    def drop(self, turn_id: int) -> None:
        """The turn is cancelled: drop its audio still queued."""


def turn_options(
    services: Services,
    *,
    voice: bool,
    codec: Codec,
    sample_rate: int,
    voice_name: str | None = None,
    rate: float = 1.0,
) -> TurnOptions:
    """A turn's options, captured when it starts: the one way every endpoint builds them."""
    settings, tts = services.settings, services.tts
    native = voice_rate(tts, voice_name)  # the voice's own rate, the encoder's input
    return TurnOptions(
        voice=voice,
        voice_name=voice_name,
        rate=rate,
        frame_ms=settings.frame_ms,
        encoder=partial(make_encoder, codec, native, sample_rate),
        sample_rate=native,
        max_chars=settings.max_reply_chars,
        timeout_s=settings.llm_timeout_s,
        first_min_words=settings.first_segment_min_words,
        clause_min_words=settings.segment_clause_min_words or None,
    )


@dataclass(eq=False)
class Running:
    turn: Turn
    gate: StartGate
    task: asyncio.Task[None] | None = None
    played_ms: int | None = None
    error: Error | None = None
    started: bool = False  # its turn.start is queued
    settled: bool = False
    slot: Slot | None = None  # its share of the synthesis capacity (a spoken turn)
    notice: Notice | None = None  # sent after its turn.start


class TurnRunner:
    def __init__(
        self,
        services: Services,
        sink: TurnSink,
        conversation: Conversation,
        spawn: Spawn,
        *,
        identity: str,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.services = services
        self.sink = sink
        self.conversation = conversation
        self.spawn = spawn
        self.identity = identity
        self.on_change = on_change  # the session's state changed (for its snapshot)
        self.running: Running | None = None

    @property
    def running_turn(self) -> int | None:
        return self.running.turn.turn_id if self.running is not None else None

    @property
    def running_text(self) -> str:
        return self.running.turn.text if self.running is not None else ""

    async def start(
        self,
        message: UserMessage,
        turn_id: int,
        options: TurnOptions,
        *,
        audio: AudioFormat | None = None,
        voice_name: str | None = None,
        client_tools: ClientTools | None = None,
        follow_up: bool = False,
    ) -> None:
        """Start a turn answering `message`; a turn still running is interrupted first.
        `audio` and `voice_name` are announced in its `turn.start` (set when they are not the
        session's: a voice of its own for this reply).

        `follow_up`: the turn goes on after tool outputs already in the history; `message`
        names them and is neither stored nor added. `client_tools`: functions the client runs.
        """
        await self.cancel()
        conversation, services = self.conversation, self.services
        # Over the synthesis capacity, the turn answers as text only (server/speech_load.py).
        slot = services.speech.admit() if options.voice else None
        notice = None
        if options.voice and slot is None:
            options, notice = replace(options, voice=False), overloaded_notice(turn_id)
        stored = conversation.ask(message, turn_id, spoken=options.voice, follow_up=follow_up)
        context = TurnContext(
            text=message.text,
            history=whole(conversation.history),
            llm=services.llm,
            identity=self.identity,
            tools=services.tools,
            client_tools=client_tools,
        )

        async def put(item: Outgoing | TurnStart) -> None:
            await self.sink.put(item)
            if isinstance(item, TurnStart):
                running.started = True

        async def emit(item: Outgoing) -> None:
            await self._emit(running, item)

        start = TurnStart(turn_id=turn_id, reply_to=message.id, audio=audio, voice_name=voice_name)
        gate = StartGate(put, start, stored)

        turn = Turn(turn_id, services.responder, context, services.tts, emit, options)
        if slot is not None:
            slot.ahead = turn.speaker.ahead_s  # starting until its audio is ahead of the listener
        self.running = running = Running(turn, gate, slot=slot, notice=notice)
        try:
            running.task = self.spawn(self._drive(running))
        except BaseException:
            # The connection can run no more tasks (its task group is shutting down): the turn
            # never ran; it is ended here, so its speech slot and stored reply are not left open.
            running.turn.status = "interrupted"
            self._settle(running)
            raise
        self.on_change()

    async def cancel(self, turn_id: int | None = None, played_ms: int | None = None) -> None:
        """Interrupt the running turn (if it is `turn_id`) and settle its end, once."""
        running = self.running
        if running is None or (turn_id is not None and running.turn.turn_id != turn_id):
            return
        if played_ms is not None:
            running.played_ms = played_ms
        task = running.task
        if running.settled or task is None:
            return
        self.sink.drop(running.turn.turn_id)
        task.cancel()
        try:
            await asyncio.wait({task})
        finally:
            running.turn.status = "interrupted"
            self._settle(running)

    async def wait(self, grace: float | None = None) -> bool:
        """Wait for the running turn to end by itself; False if it still runs after `grace` s."""
        running = self.running
        if running is None or running.task is None:
            return True
        await asyncio.wait({running.task}, timeout=grace)
        return running.task.done()

    async def linger(self, grace: float, *, followed: Callable[[], bool]) -> None:
        """The client went: the running reply goes on for `grace` s, and to its end when a
        resumed client follows it (`followed()`; bounded by llm_timeout_s and max_reply_chars).
        The caller cancels what still runs after."""
        if self.running is None or await self.wait(grace):
            return
        if followed():
            await self.wait()
        else:
            log.info("turn %d: no resume within %g s", self.running.turn.turn_id, grace)

    async def _emit(self, running: Running, item: Outgoing) -> None:
        if running.settled:
            return  # ended (cancelled while it was still writing): nothing follows its end
        await running.gate.emit(item)
        if isinstance(item, TextDelta | Data):
            # The reply so far is kept for a resume, and for a process that takes over when
            # this one dies (its saver coalesces a burst of changes into one save).
            self.on_change()

    async def _drive(self, running: Running) -> None:
        turn = running.turn
        try:
            if running.notice is not None:
                await running.gate.emit(running.notice)
            await turn.run()
            await running.gate.open()  # even a reply with no frames is started before it ends
        except asyncio.CancelledError:
            turn.status = "interrupted"
            raise
        except Exception:
            log.exception("turn %d failed", turn.turn_id)
            turn.status = "failed"
            running.error = Error(
                code=ErrorCode.INTERNAL, message="internal error", turn_id=turn.turn_id
            )
        self._settle(running)

    def _settle(self, running: Running) -> None:
        """The turn's end: sent, stored, remembered. Synchronous, so it cannot be cut short."""
        if running.settled:
            return
        running.settled = True
        turn, gate = running.turn, running.gate
        if running.slot is not None:
            running.slot.release()
        if not running.started:
            running.started = gate.opened = True
            self.sink.put_now(gate.start)
        if running.error is not None:
            self.sink.put_now(running.error)
        played_ms = running.played_ms
        # What the user heard is what was said: an interrupted spoken reply is cut to the words
        # whose audio was played (PROTOCOL.md §1, barge-in).
        text = turn.text
        if turn.status == "interrupted" and played_ms is not None and turn.options.voice:
            text = heard_text(turn, played_ms)
        self.conversation.answered(turn, text, played_ms)
        end = TurnEnd(turn_id=turn.turn_id, status=turn.status, text=text, played_ms=played_ms)
        if text != turn.text:
            end = end.model_copy(update={"generated_text": turn.text})
        self.sink.put_now(end)
        self.services.metrics.turns.labels(turn.status).inc()
        if self.running is running:
            self.running = None
        self.on_change()
