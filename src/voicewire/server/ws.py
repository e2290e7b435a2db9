"""The `/ws` endpoint: frames in → Session → turns → frames out.

One `Connection` per socket owns every task of its session in one task group:

    Connection.run()
     └─ TaskGroup
         ├─ writer   Outbox.run()          every frame out, in seq order; into the log when away
         ├─ reader   Inbound.run()         client frames in, handled one at a time, in order
         ├─ turn     TurnRunner            at most one turn; its end is settled by the runner
         ├─ saver    SessionLog            the session's latest state, saved for a resume
         └─ replay   Relay.run()           while a resume replays the session's log

The body of `run()` starts the session (new, or resumed: PROTOCOL.md §8), waits until the client
goes, lets a running reply go on for `resume_grace_s` into the log, then ends the turn, the
microphone and the writer, in that order, and hands the session off.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import Message
from starlette.websockets import WebSocket

from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.messages import (
    PROTOCOL_VERSION,
    Error,
    InputAudioStart,
    InputAudioStop,
    Ping,
    PlaybackUnderrun,
    Pong,
    SessionUpdate,
    SpeechStarted,
    Transcript,
    TurnCancel,
    UserMessage,
)
from voicewire.protocol.session import MicrophoneAudio, Violation
from voicewire.resume import CancelTurn, Control, SessionState, Takeover
from voicewire.server.auth import ResumeGrant
from voicewire.server.continuity import ready_message, session_state
from voicewire.server.conversation import Conversation
from voicewire.server.handshake import Admission, admitted, open_conversation
from voicewire.server.inbound import Inbound
from voicewire.server.outbox import Close, session_outbox
from voicewire.server.resumption import resume
from voicewire.server.services import Services
from voicewire.server.sessionlog import SessionLog
from voicewire.server.turns import TurnRunner, turn_options
from voicewire.server.voice_input import AudioFlood, Microphone

log = logging.getLogger(__name__)


class Connection:
    def __init__(self, websocket: WebSocket, services: Services) -> None:
        self.ws, self.services = websocket, services
        s = services.settings
        self.session = services.new_session()
        self.out = session_outbox(websocket, self.session, services)
        self.identity = ""
        self.tg = asyncio.TaskGroup()  # entered by run(): every task of the session is in it
        self.log = SessionLog(
            services.hub, self.out, self.state, self._on_control, self.tg.create_task
        )
        self.runner = TurnRunner(
            services,
            self.out,
            Conversation.open(services, "", []),
            self.tg.create_task,
            identity="",
            on_change=self.log.changed,
        )
        self.mic = Microphone(
            services.stt,
            s,
            on_speech=self._on_speech,
            on_transcript=self._on_transcript,
            on_error=self.out.put,
        )
        self.inbound = Inbound(
            websocket,
            self.out,
            self.dispatch,
            idle_timeout_s=s.idle_timeout_s,
            busy=lambda: self.runner.running is not None,
        )
        self.reader: asyncio.Task[None] | None = None
        self.taken_over = False

    async def run(self) -> None:
        def refusal(code: ErrorCode, message: str) -> str:
            return self.session.send(Error(code=code, message=message))

        proto = PROTOCOL_VERSION
        async with admitted(
            self.ws, self.services, subprotocol=proto, refusal=refusal
        ) as admission:
            if admission is None:
                return
            try:
                async with self.tg:
                    await self._serve(admission)
            except* Exception as failed:  # a bug in one of the session's tasks
                log.error("session %s failed", self.session.session_id, exc_info=failed)

    async def _serve(self, admission: Admission) -> None:
        self.identity = self.runner.identity = admission.identity.subject
        writer = self.tg.create_task(self.out.run())
        self.reader = reader = self.tg.create_task(self.inbound.run())
        try:
            if admission.resume is not None:
                going = await resume(self, admission, admission.resume, reader)
            else:
                async with self.inbound.lock:  # nothing the client sends goes before session.ready
                    going = await self.start(admission)
            if going:
                # The session ends when the client goes or is taken over (reader), or when its
                # socket fails or is cut off (the writer loses it).
                gone = self.tg.create_task(self.out.gone.wait())
                await asyncio.wait({reader, gone}, return_when=asyncio.FIRST_COMPLETED)
                gone.cancel()
                if self.runner.running and not self.inbound.closed_by_client:  # 1000: done
                    self.out.detach()  # the reply goes on into the log, for a resume
                    await self.runner.linger(
                        self.services.settings.resume_grace_s,
                        followed=lambda: self.taken_over and not self.log.lost,
                    )
        finally:
            reader.cancel()
            await self.runner.cancel()
            await self.mic.close()
            await self.out.finish(writer)
            await self.log.hand_off()
            self.session.close()

    async def start(self, admission: Admission) -> bool:
        """A new session: its conversation, its log, then `session.ready` (seq 1)."""
        try:
            opened = await open_conversation(admission, self.services)
        except Exception:
            log.exception("session %s: cannot open its conversation", self.session.session_id)
            self.out.put_now(Error(code=ErrorCode.INTERNAL, message="internal error"))
            self.out.put_now(Close(CloseCode.INTERNAL, "internal error"))
            return False
        self.runner.conversation = Conversation.open(
            self.services, opened.conversation_id, opened.history
        )
        await self.log.own(self.state())
        grant = ResumeGrant(self.session.session_id, self.identity, opened.conversation_id)
        self.out.put_now(ready_message(self.session, self.services, grant, admission.guest_token))
        return True

    def state(self) -> SessionState:
        return session_state(
            self.session,
            subject=self.identity,
            conversation=self.runner.conversation,
            runner=self.runner,
        )

    async def dispatch(self, message: Message, *, rate_limit: bool = True) -> bool:
        """Handle one client frame; False when the connection must close."""
        if message.get("text") is not None:
            inbound = self.session.receive_text(message["text"], rate_limit=rate_limit)
        else:
            inbound = self.session.receive_bytes(message.get("bytes") or b"")
        for item in inbound:
            if isinstance(item, Violation):
                await self.out.put(item.error)
                if item.close_code is not None:
                    self.out.put_now(Close(item.close_code, item.error.code))
                    return False
            elif not await self._handle(item):
                return False
        return True

    async def _handle(self, message: object) -> bool:
        """Act on one client message; False when the connection must close."""
        if isinstance(message, MicrophoneAudio):
            try:
                await self.mic.feed(message.pcm)
            except AudioFlood as flood:
                await self.out.put(Error(code=ErrorCode.RATE_LIMITED, message=str(flood)))
                self.out.put_now(Close(CloseCode.RATE_LIMITED, ErrorCode.RATE_LIMITED))
                return False
        elif isinstance(message, UserMessage):
            await self._start_turn(message)
        elif isinstance(message, TurnCancel):
            await self.runner.cancel(message.turn_id, message.played_ms)
        elif isinstance(message, SessionUpdate):
            await self.out.put(self.session.updated_message())  # applies from the next turn
            self.log.changed()  # saved: a resume elsewhere must send what the client expects
        elif isinstance(message, Ping):
            await self.out.put(Pong(id=message.id))
        elif isinstance(message, InputAudioStart):
            await self.mic.start(message)
        elif isinstance(message, InputAudioStop):
            await self.mic.stop()
        elif isinstance(message, PlaybackUnderrun):  # stutter as heard, for production to see
            self.services.metrics.underran(message.silence_ms)
        return True

    async def _on_speech(self, utterance_id: str) -> None:
        # Barge-in by voice: the user talking over the reply stops it, like turn.cancel.
        await self.runner.cancel()
        await self.out.put(SpeechStarted(utterance_id=utterance_id))

    async def _on_transcript(self, utterance_id: str, text: str, final: bool) -> None:
        await self.out.put(Transcript(utterance_id=utterance_id, text=text, final=final))
        if final and text:
            voice = self.mic.voice_reply
            await self._start_turn(UserMessage(id=utterance_id, text=text, voice=voice))

    async def _start_turn(self, message: UserMessage) -> None:
        # Barge-in policy: a new user message interrupts the turn that is still running.
        await self.runner.cancel()
        session = self.session.settings
        turn_id = self.session.new_turn(message)  # with the message's own voice and rate
        s = self.session.turn_settings(turn_id)  # captured: a session.update applies next turn
        voice = message.voice and s.voice
        self.out.turn_started(turn_id, voice=voice)
        options = turn_options(
            self.services,
            voice=voice,
            codec=s.audio.codec,
            sample_rate=s.audio.sample_rate,
            voice_name=s.voice_name,
            rate=s.rate,
        )
        await self.runner.start(
            message,
            turn_id,
            options,
            audio=s.audio if voice and s.audio != session.audio else None,
            voice_name=s.voice_name if s.voice_name != session.voice_name else None,
        )

    async def _on_control(self, control: Control) -> None:
        """Controls from a connection resuming this session (maybe on another process)."""
        if isinstance(control, Takeover):
            self.taken_over = self.inbound.stopped = True
            self.out.detach(Close(CloseCode.RESUMED_ELSEWHERE, ErrorCode.SESSION_RESUMED_ELSEWHERE))
            if self.reader is not None and self.inbound.receiving:
                self.reader.cancel()
        elif isinstance(control, CancelTurn):
            await self.runner.cancel(control.turn_id, control.played_ms)
