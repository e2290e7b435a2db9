"""The Session state machine: text or bytes in, messages and frames out. No I/O.

The I/O wrapper (server/ws.py) feeds every received frame to `receive_text` / `receive_bytes`,
acts on what comes back, and turns every outgoing message into a frame with `send` / `audio`.
Bad input from the peer never raises: it comes back as a `Violation` naming the error to send
and, where the connection must end, the close code. Misuse by the local side (sending after
close, audio for a turn that is not running) raises `RuntimeError` naming the state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from pydantic import ValidationError

from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.frames import (
    CODEC_IDS,
    AudioFrame,
    CodecId,
    FrameError,
    FrameFlags,
    FrameKind,
    decode_frame,
)
from voicewire.protocol.messages import (
    CLIENT_TYPES,
    AudioFormat,
    ClientMessage,
    Codec,
    Error,
    InputAudioStart,
    InputAudioStop,
    Limits,
    ServerMessage,
    SessionReady,
    SessionResumed,
    SessionUpdate,
    SessionUpdated,
    TurnCancel,
    TurnEnd,
    UserMessage,
    VoiceEntry,
    client_message_adapter,
)
from voicewire.protocol.state import (
    Inbound,
    MicrophoneAudio,
    RateWindow,
    SessionSnapshot,
    SpeechSettings,
    Violation,
)

__all__ = [
    "Inbound",
    "MicrophoneAudio",
    "Session",
    "SessionSnapshot",
    "SpeechSettings",
    "Violation",
]


class Session:
    def __init__(
        self,
        session_id: str,
        *,
        audio: AudioFormat | None = None,
        voices: tuple[str, ...] = (),
        voice_info: tuple[VoiceEntry, ...] = (),
        codecs: frozenset[str] = frozenset({"pcm16"}),
        sample_rates: frozenset[int] | None = None,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
        output_rate: Callable[[Codec, int], int] | None = None,
    ) -> None:
        self.session_id = session_id
        self.limits = limits or Limits()
        self.voices = voices
        # Each voice's own rate: a turn in it is sent at that rate unless the client chose one.
        self.voice_info = voice_info
        self._voice_rates = {v.name: v.sample_rate for v in voice_info}
        self._pinned = False
        self.codecs = codecs
        fmt = audio or AudioFormat()
        self.sample_rates = sample_rates or frozenset({fmt.sample_rate})
        # The rate a codec is really sent at for a requested rate (opus: always 48000); the
        # requested rate is kept apart so switching back to pcm16 gets it again.
        self._output_rate = output_rate or (lambda codec, rate: rate)
        self._requested_rate = fmt.sample_rate
        self.settings = SpeechSettings(
            voice=True,
            voice_name=voices[0] if voices else None,
            rate=1.0,
            audio=fmt,
        )
        self.closed = False
        self.input_rate: int | None = None  # microphone on: its sample rate
        self._clock = clock
        self._seq = 0
        self._next_turn = 1
        self._running: dict[int, Codec] = {}  # running turns and the codec each started with
        self._turns: dict[int, SpeechSettings] = {}  # and the settings each started with
        self._rate = RateWindow(self.limits.max_messages_per_second)

    # ------------------------------------------------------------ receiving

    def receive_text(self, data: str, *, rate_limit: bool = True) -> list[Inbound]:
        """A text frame from the peer; `rate_limit=False` for frames already counted (held
        during a resume's replay)."""
        if len(data.encode("utf-8", "surrogatepass")) > self.limits.max_text_frame_bytes:
            return [
                self._violation(
                    ErrorCode.FRAME_TOO_BIG,
                    f"text frame is larger than {self.limits.max_text_frame_bytes} bytes",
                    CloseCode.TOO_BIG,
                )
            ]
        if rate_limit and self._rate.exceeded(self._clock()):
            return [
                self._violation(
                    ErrorCode.RATE_LIMITED,
                    f"more than {self.limits.max_messages_per_second} messages per second",
                    CloseCode.RATE_LIMITED,
                )
            ]
        try:
            obj = json.loads(data)
        except ValueError as exc:
            return [self._violation(ErrorCode.INVALID_JSON, f"not JSON: {exc}", None)]
        if not isinstance(obj, dict):
            return [self._violation(ErrorCode.NOT_AN_OBJECT, "a frame must be a JSON object")]
        kind = obj.get("type")
        if not isinstance(kind, str) or kind not in CLIENT_TYPES:
            return [self._violation(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind!r}")]
        try:
            message = client_message_adapter.validate_python(obj)
        except ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(map(str, e['loc'][1:])) or 'message'}: {e['msg']}" for e in exc.errors()
            )
            return [self._violation(ErrorCode.INVALID_MESSAGE, f"invalid {kind}: {detail}")]
        return self._accept(message)

    def receive_bytes(self, data: bytes) -> list[Inbound]:
        # Binary frames are microphone audio, and only between input_audio.start and .stop.
        # They do not count against the message rate: 50 frames a second is normal speech.
        if self.input_rate is None:
            return [
                self._violation(
                    ErrorCode.UNEXPECTED_BINARY,
                    "binary frames are accepted only between input_audio.start and .stop",
                    CloseCode.UNSUPPORTED_DATA,
                )
            ]
        try:
            frame = decode_frame(data)
        except FrameError as exc:
            return [self._violation(ErrorCode.INVALID_FRAME, str(exc), CloseCode.INVALID_DATA)]
        if frame.kind != FrameKind.MICROPHONE or frame.codec != CodecId.PCM16:
            return [
                self._violation(
                    ErrorCode.INVALID_FRAME,
                    "client frames must be microphone audio (kind 2) in pcm16 (codec 0)",
                    CloseCode.INVALID_DATA,
                )
            ]
        if len(frame.payload) % 2:
            return [
                self._violation(
                    ErrorCode.INVALID_FRAME, "pcm16 payload of odd length", CloseCode.INVALID_DATA
                )
            ]
        return [MicrophoneAudio(frame.payload, self.input_rate)]

    def _accept(self, message: ClientMessage) -> list[Inbound]:
        if isinstance(message, UserMessage) and len(message.text) > self.limits.max_message_chars:
            return [
                self._violation(
                    ErrorCode.MESSAGE_TOO_LONG,
                    f"text is longer than {self.limits.max_message_chars} characters",
                )
            ]
        if isinstance(message, TurnCancel):
            if message.turn_id >= self._next_turn:
                return [
                    self._violation(
                        ErrorCode.UNKNOWN_TURN, f"no turn {message.turn_id} in this session"
                    )
                ]
            if message.turn_id not in self._running:
                return []  # it ended while the cancel was on its way: nothing to do
        if isinstance(message, SessionUpdate):
            return self._update(message)
        if isinstance(message, UserMessage) and message.voice_name not in (None, *self.voices):
            return [self._unknown_voice(message.voice_name)]
        if isinstance(message, InputAudioStart):
            self.input_rate = message.sample_rate
        elif isinstance(message, InputAudioStop):
            self.input_rate = None
        return [message]

    def _update(self, message: SessionUpdate) -> list[Inbound]:
        if message.voice_name is not None and message.voice_name not in self.voices:
            return [self._unknown_voice(message.voice_name)]
        for what, value, offered in (
            ("sample rate", message.sample_rate, sorted(self.sample_rates)),
            ("codec", message.codec, sorted(self.codecs)),
        ):
            if value is not None and value not in offered:
                shown = repr(value) if isinstance(value, str) else value
                available = ", ".join(map(str, offered))
                detail = f"{what} {shown} is not available; available: {available}"
                return [self._violation(ErrorCode.UNSUPPORTED_CODEC, detail)]
        s = self.settings
        audio = s.audio
        voice_name = message.voice_name or s.voice_name
        if message.codec or message.sample_rate or voice_name != s.voice_name:
            self._pinned = self._pinned or message.sample_rate is not None
            self._requested_rate = message.sample_rate or self._requested_rate
            audio = self._audio_for(message.codec or s.audio.codec, voice_name)
        # A new value, never a change in place: a running turn keeps the settings it started
        # with (its options were built from them).
        self.settings = SpeechSettings(
            voice=s.voice if message.voice is None else message.voice,
            voice_name=voice_name,
            rate=s.rate if message.rate is None else message.rate,
            audio=audio,
        )
        return [message]

    def _audio_for(self, codec: Codec, voice_name: str | None) -> AudioFormat:
        """How a turn in `voice_name` is sent: at the rate the client chose, else the voice's."""
        native = self._voice_rates.get(voice_name or "")
        requested = self._requested_rate if self._pinned or native is None else native
        return AudioFormat(codec=codec, sample_rate=self._output_rate(codec, requested))

    def _unknown_voice(self, name: str | None) -> Violation:
        available = ", ".join(self.voices)
        return self._violation(
            ErrorCode.UNKNOWN_VOICE, f"unknown voice {name!r}; available: {available}"
        )

    def _violation(
        self, code: ErrorCode, message: str, close_code: CloseCode | None = None
    ) -> Violation:
        return Violation(Error(code=code, message=message), close_code)

    # ------------------------------------------------------------ sending

    def send(self, message: ServerMessage) -> str:
        """Stamp the next `seq` on `message` and return its text frame."""
        self._check_open("send a message")
        if isinstance(message, TurnEnd):
            self._check_running(message.turn_id, "end")
            del self._running[message.turn_id]
            self._turns.pop(message.turn_id, None)
        self._seq += 1
        return message.model_copy(update={"seq": self._seq}).model_dump_json(exclude_none=True)

    def ready_message(self) -> SessionReady:
        s = self.settings
        return SessionReady(
            session_id=self.session_id,
            audio=s.audio,
            voice=s.voice,
            voices=self.voices,
            voice_name=s.voice_name,
            rate=s.rate,
            limits=self.limits,
            voice_info=self.voice_info,
        )

    def resumed_frame(self, last_seq: int) -> str:
        """`session.resumed`: the one event that takes no new `seq` (it repeats `last_seq`)."""
        return SessionResumed(session_id=self.session_id, seq=last_seq).model_dump_json()

    def snapshot(self) -> SessionSnapshot:
        """The state another connection or process goes on from (`restore`)."""
        return SessionSnapshot(
            session_id=self.session_id,
            seq=self._seq,
            next_turn=self._next_turn,
            settings=self.settings,
            requested_rate=self._requested_rate,
            running=tuple(self._running.items()),
            pinned_rate=self._pinned,
        )

    def restore(self, snapshot: SessionSnapshot) -> None:
        """Go on with a session another connection (or process) ran: id, seq, turns, settings."""
        self._check_open("restore a session")
        self.session_id = snapshot.session_id
        self._seq = snapshot.seq
        self._next_turn = snapshot.next_turn
        self.settings = snapshot.settings
        self._requested_rate = snapshot.requested_rate
        self._running = dict(snapshot.running)
        self._turns = {}  # a running turn's own voice is not kept: its frames say its codec
        self._pinned = snapshot.pinned_rate

    @property
    def next_turn(self) -> int:
        return self._next_turn

    @property
    def requested_rate(self) -> int:
        return self._requested_rate

    def updated_message(self) -> SessionUpdated:
        s = self.settings
        return SessionUpdated(audio=s.audio, voice=s.voice, voice_name=s.voice_name, rate=s.rate)

    def new_turn(self, message: UserMessage | None = None) -> int:
        """Allocate the next turn id; the turn runs until its `turn.end` is sent. It keeps the
        session's settings, or the voice and rate `message` asks for its reply alone."""
        self._check_open("start a turn")
        turn_id = self._next_turn
        self._next_turn += 1
        s = self.settings
        if message is not None and (message.voice_name or message.rate is not None):
            voice_name = message.voice_name or s.voice_name
            audio = s.audio
            if voice_name != s.voice_name:
                audio = self._audio_for(s.audio.codec, voice_name)
            rate = s.rate if message.rate is None else message.rate
            s = SpeechSettings(voice=s.voice, voice_name=voice_name, rate=rate, audio=audio)
        self._running[turn_id] = s.audio.codec
        self._turns[turn_id] = s
        return turn_id

    def turn_settings(self, turn_id: int) -> SpeechSettings:
        """The voice, rate and audio format `turn_id` started with."""
        self._check_running(turn_id, "look up the settings of")
        return self._turns.get(turn_id, self.settings)

    def turn_codec(self, turn_id: int) -> Codec:
        """The codec `turn_id` was started with: its audio frames say so, whatever came since."""
        self._check_running(turn_id, "look up the codec of")
        return self._running[turn_id]

    def is_running(self, turn_id: int) -> bool:
        return turn_id in self._running

    def audio(
        self,
        turn_id: int,
        segment_id: int,
        payload: bytes,
        *,
        sample_offset: int,
        flags: FrameFlags = FrameFlags.NONE,
    ) -> bytes:
        """Return the binary frame carrying `payload`, encoded in the codec of its turn."""
        self._check_open("send audio")
        self._check_running(turn_id, "send audio for")
        self._seq += 1
        return AudioFrame(
            kind=FrameKind.SPEECH,
            flags=flags,
            codec=CODEC_IDS[self._running[turn_id]],
            seq=self._seq,
            turn_id=turn_id,
            segment_id=segment_id,
            sample_offset=sample_offset,
            payload=payload,
        ).encode()

    def close(self) -> None:
        self.closed = True
        self._running.clear()
        self._turns.clear()

    @property
    def seq(self) -> int:
        return self._seq

    def _check_open(self, action: str) -> None:
        if self.closed:
            raise RuntimeError(f"cannot {action}: the session is closed")

    def _check_running(self, turn_id: int, action: str) -> None:
        if turn_id not in self._running:
            raise RuntimeError(f"cannot {action} turn {turn_id}: it is not running")
