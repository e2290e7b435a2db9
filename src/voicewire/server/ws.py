"""The WebSocket glue: frames in → Session → turns → frames out. Thin by design.

One reader task, one writer (the `Outbox`, which owns the socket's send side), at most one
running turn, and the microphone when it is on. When the client goes, a running reply goes on
for `resume_grace_s` into the session's replay log; then the session is handed off, for a
resume on any process to take over (PROTOCOL.md §8: `continuity.py`, and `relay.py` for the
replay).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from functools import partial
from typing import TYPE_CHECKING

from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect

from voicewire.codecs import CODECS, SAMPLE_RATES, make_encoder, output_rate
from voicewire.llm.base import ChatMessage
from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.messages import (
    PROTOCOL_VERSION,
    AudioFormat,
    Error,
    InputAudioStart,
    InputAudioStop,
    Limits,
    Ping,
    Pong,
    SessionUpdate,
    SpeechStarted,
    Transcript,
    TurnCancel,
    TurnEnd,
    TurnStart,
    UserMessage,
)
from voicewire.protocol.session import MicrophoneAudio, Session, Violation
from voicewire.responder import TurnContext
from voicewire.resume import ReplayLog
from voicewire.server.auth import ResumeGrant
from voicewire.server.continuity import Continuity
from voicewire.server.handshake import Admission, Refusal, admit
from voicewire.server.outbox import Close, End, Outbox
from voicewire.server.persist import Recorder, StartGate
from voicewire.server.relay import Relay, TooManyHeld
from voicewire.server.voice_input import VoiceInput
from voicewire.turn import Turn, TurnOptions, heard_text

if TYPE_CHECKING:
    from voicewire.server.app import Services

log = logging.getLogger(__name__)


def new_session(services: Services) -> Session:
    s, tts = services.settings, services.tts
    return Session(
        uuid.uuid4().hex,
        audio=AudioFormat(sample_rate=tts.sample_rate),
        voices=tts.voices,
        codecs=CODECS,
        sample_rates=SAMPLE_RATES | {tts.sample_rate},
        output_rate=output_rate,
        limits=Limits(
            max_text_frame_bytes=s.max_text_frame_bytes,
            max_message_chars=s.max_message_chars,
            max_messages_per_second=s.max_messages_per_second,
        ),
    )


class Connection(Continuity):
    def __init__(self, websocket: WebSocket, services: Services) -> None:
        self.ws = websocket
        self.services = services
        s = services.settings
        self.session = new_session(services)
        self.out = Outbox(
            websocket,
            self.session,
            services.metrics,
            maxsize=s.send_queue_frames,
            send_timeout_s=s.send_timeout_s,
            delivered_after_s=2 * s.ping_interval_s + 5,
        )
        self.history: list[ChatMessage] = []
        self.turn: Turn | None = None
        self.turn_task: asyncio.Task[None] | None = None
        self.played_ms: dict[int, int] = {}
        self.recorder: Recorder | None = None
        self.identity = ""
        self.conversation_id = ""
        self.voice_input: VoiceInput | None = None
        self.voice_reply = True
        self.log: ReplayLog | None = None
        self.relay: Relay | None = None  # while a resume replays: client frames are held
        self.inbound = asyncio.Lock()  # client frames are handled one at a time, in order
        self.reader: asyncio.Task[None] | None = None
        self.taken_over = False
        self.closed_by_client = False  # a close frame with 1000: the user is done, no resume
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        admission = await admit(self.ws, self.services)
        if isinstance(admission, Refusal):
            log.info("handshake refused: %s", admission.reason)
            await self.ws.close(CloseCode.POLICY, admission.reason)
            return
        await self.ws.accept(subprotocol=PROTOCOL_VERSION)
        subject = admission.identity.subject
        refused = self.services.connections.acquire(subject)
        if refused is not None:
            code, close_code, message = refused
            await self.ws.send_text(self.session.send(Error(code=code, message=message)))
            await self.ws.close(close_code, code)
            return
        self.services.metrics.sessions.inc()
        try:
            await self._serve(admission)
        finally:
            self.services.metrics.sessions.dec()
            self.services.connections.release(subject)

    async def _serve(self, admission: Admission) -> None:
        self.identity = admission.identity.subject
        self.history = admission.history
        writer = asyncio.create_task(self.out.run())
        self.reader = reader = asyncio.create_task(self._read())
        try:
            if admission.resume is not None:
                if not await self._resume(admission, admission.resume, reader):
                    return
            else:
                async with self.inbound:  # nothing the client sends goes before session.ready
                    await self._start(admission)
            # The session ends when the client goes or is taken over (reader), when its socket
            # fails or is cut off (the writer loses it), or on a bug.
            gone = asyncio.create_task(self.out.gone.wait())
            await asyncio.wait({reader, writer, gone}, return_when=asyncio.FIRST_COMPLETED)
            gone.cancel()
            if reader.done() and not reader.cancelled() and reader.exception() is not None:
                # A bug: the details go to the log, the client gets a generic 1011.
                log.error("session %s failed", self.session.session_id, exc_info=reader.exception())
                self.out.put_now(Close(CloseCode.INTERNAL, "internal error"))
                await self._cancel_turn()
            await self._finish_without_client()
        finally:
            reader.cancel()
            await self._cancel_turn()
            if self.voice_input is not None:
                await self.voice_input.close()
            await self._stop_writer(writer)
            await self._hand_off()
            self.session.close()

    async def _start(self, admission: Admission) -> None:
        """A new session: own its log, then `session.ready` (seq 1, the log's first frame)."""
        self._use_conversation(admission.conversation_id)
        await self._own(self._state())
        grant = ResumeGrant(self.session.session_id, self.identity, self.conversation_id)
        ready = self.session.ready_message().model_copy(
            update={
                "conversation_id": admission.conversation_id or None,
                "guest_token": admission.guest_token,
                "resume_token": self.services.signer.sign_resume(
                    grant, self.services.settings.resume_token_ttl_s
                ),
            }
        )
        self.out.put_now(ready)

    def _use_conversation(self, conversation_id: str) -> None:
        self.conversation_id = conversation_id
        if self.services.store is not None and conversation_id:
            self.recorder = Recorder(
                self.services.store,
                self.services.writes,
                conversation_id,
                node=self.services.hub.node,
            )

    def _fresh_session(self) -> Session:
        return new_session(self.services)

    async def _stop_writer(self, writer: asyncio.Task[None]) -> None:
        if writer.done():
            return
        self.out.put_now(Close(CloseCode.NORMAL, ""))
        self.out.put_now(End())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(writer), 2.0)
        writer.cancel()

    async def _read(self) -> None:
        idle = self.services.settings.idle_timeout_s
        while not self.taken_over:
            try:
                async with asyncio.timeout(idle):
                    message = await self.ws.receive()
            except TimeoutError:
                if self.turn is not None or self.relay is not None:
                    continue  # a long reply is not idleness
                self.out.put_now(
                    Error(code=ErrorCode.IDLE_TIMEOUT, message=f"no message for {idle:g} s")
                )
                self.out.put_now(Close(CloseCode.IDLE_TIMEOUT, ErrorCode.IDLE_TIMEOUT))
                return
            except WebSocketDisconnect as exc:
                self.closed_by_client = exc.code == CloseCode.NORMAL
                return
            except RuntimeError:
                return
            if message["type"] == "websocket.disconnect":
                self.closed_by_client = message.get("code") == CloseCode.NORMAL
                return
            async with self.inbound:
                if self.relay is not None:
                    try:
                        await self.relay.hold(message)
                    except TooManyHeld:
                        self.out.put_now(Close(CloseCode.RATE_LIMITED, ErrorCode.RATE_LIMITED))
                        return
                elif not await self._dispatch(message):
                    return

    async def _dispatch(self, message: Message, *, rate_limit: bool = True) -> bool:
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
            else:
                await self._handle(item)
        return True

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
        elif isinstance(message, MicrophoneAudio):
            if self.voice_input is not None:
                await self.voice_input.feed(message.pcm)
        elif isinstance(message, InputAudioStart):
            await self._start_voice_input(message)
        elif isinstance(message, InputAudioStop) and self.voice_input is not None:
            voice_input, self.voice_input = self.voice_input, None
            await voice_input.finish()

    async def _start_voice_input(self, message: InputAudioStart) -> None:
        if self.voice_input is not None:
            await self.voice_input.close()
        stt = await self.services.stt.get()
        if stt is None:
            await self.out.put(
                Error(code=ErrorCode.STT_UNAVAILABLE, message="this server has no speech input")
            )
            return
        self.voice_reply = message.voice
        self.voice_input = VoiceInput(
            stt,
            sample_rate=message.sample_rate,
            end_by_vad=message.end == "vad",
            on_speech=self._on_speech,
            on_transcript=self._on_transcript,
            silence_ms=self.services.settings.stt_silence_ms,
        )

    async def _on_speech(self, utterance_id: str) -> None:
        # Barge-in by voice: the user talking over the reply stops it, like turn.cancel.
        await self._cancel_turn()
        await self.out.put(SpeechStarted(utterance_id=utterance_id))

    async def _on_transcript(self, utterance_id: str, text: str, final: bool) -> None:
        await self.out.put(Transcript(utterance_id=utterance_id, text=text, final=final))
        if final and text:
            await self._start_turn(UserMessage(id=utterance_id, text=text, voice=self.voice_reply))

    async def _start_turn(self, message: UserMessage) -> None:
        # Barge-in policy: a new user message interrupts the turn that is still running.
        await self._cancel_turn()
        s, settings, tts = self.session.settings, self.services.settings, self.services.tts
        turn_id = self.session.new_turn()
        voice = message.voice and s.voice
        self.out.turn_started(turn_id, voice=voice)
        recorded = None
        if self.recorder is not None:
            recorded = self.recorder.user_message(
                message.text, client_id=message.id, turn_id=turn_id, spoken=voice
            )
        gate = StartGate(self.out.put, TurnStart(turn_id=turn_id, reply_to=message.id), recorded)
        self.history.append(ChatMessage("user", message.text))
        context = TurnContext(
            text=message.text,
            history=list(self.history[-settings.history_messages :]),
            llm=self.services.llm,
            identity=self.identity,
        )
        turn = Turn(
            turn_id,
            self.services.responder,
            context,
            tts,
            gate.emit,
            TurnOptions(
                voice=voice,
                voice_name=s.voice_name,
                rate=s.rate,
                frame_ms=settings.frame_ms,
                encoder=partial(make_encoder, s.audio.codec, tts.sample_rate, s.audio.sample_rate),
                max_chars=settings.max_reply_chars,
                timeout_s=settings.llm_timeout_s,
                first_min_words=settings.first_segment_min_words,
                clause_min_words=settings.segment_clause_min_words or None,
            ),
        )
        self.turn = turn
        self.turn_task = asyncio.create_task(self._run_turn(turn, gate))
        self._save_state()

    async def _run_turn(self, turn: Turn, gate: StartGate) -> None:
        try:
            await turn.run()
        except asyncio.CancelledError:
            turn.status = "interrupted"
        except Exception:
            log.exception("turn %d failed", turn.turn_id)
            turn.status = "failed"
            await gate.emit(
                Error(code=ErrorCode.INTERNAL, message="internal error", turn_id=turn.turn_id)
            )
        finally:
            await gate.open()
            played_ms = self.played_ms.pop(turn.turn_id, None)
            # What the user heard is what was said: an interrupted spoken reply is cut to the
            # words whose audio was played (PROTOCOL.md §1, barge-in).
            text = turn.text
            if turn.status == "interrupted" and played_ms is not None and turn.options.voice:
                text = heard_text(turn, played_ms)
            if text:
                self.history.append(ChatMessage("assistant", text))
            end = TurnEnd(turn_id=turn.turn_id, status=turn.status, text=text, played_ms=played_ms)
            if text != turn.text:
                end = end.model_copy(update={"generated_text": turn.text})
            if self.recorder is not None:
                self.recorder.finish_reply(
                    turn.turn_id,
                    text=text,
                    status=turn.status,
                    played_ms=played_ms,
                    spoken=turn.options.voice,
                    data=[{"kind": d.kind, "payload": d.payload} for d in turn.data],
                )
            if turn.status == "interrupted":
                # Never waits behind a full queue: the end must follow the cancel at once.
                self.out.put_now(end)
            else:
                await self.out.put(end)
            self.services.metrics.turns.labels(turn.status).inc()
            if self.turn is turn:
                self.turn = None
            self._save_state()

    async def _cancel_turn(self) -> None:
        task, turn = self.turn_task, self.turn
        if task is None or task.done() or turn is None:
            return
        self.out.drop(turn.turn_id)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
