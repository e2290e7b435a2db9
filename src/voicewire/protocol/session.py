"""The Session state machine: text or bytes in, messages and frames out. No I/O.

The I/O wrapper (server/ws.py) feeds every received frame to `receive_text` / `receive_bytes`,
acts on what comes back, and turns every outgoing message into a frame with `send` / `audio`.
Bad input from the peer never raises: it comes back as a `Violation` naming the error to send
and, where the connection must end, the close code. Misuse by the local side (sending after
close, audio for a turn that is not running) raises `RuntimeError` naming the state.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.frames import CODEC_IDS, AudioFrame, FrameFlags, FrameKind
from voicewire.protocol.messages import (
    AudioFormat,
    ClientMessage,
    Codec,
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
)
from voicewire.protocol.state import (
    Inbound,
    MicrophoneAudio,
    RateWindow,
    SessionSnapshot,
    SpeechSettings,
    Violation,
)
from voicewire.protocol.turns import RunningTurns
from voicewire.protocol.validation import parse_message, parse_microphone, violation
from voicewire.protocol.voicing import Voicing

__all__ = [
    "Inbound",
    "MicrophoneAudio",
    "Session",
    "SessionSnapshot",
    "SpeechSettings",
    "Violation",
]


class Session:
    """One session's protocol state, made of parts: `voicing` (voice, rate and audio format of
    the session and of each turn), `turns` (turn ids and what each running turn started with),
    and the checks of `protocol.validation`. It keeps the sequence numbers, limits and
    microphone state itself."""

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
        self.voicing = Voicing(
            audio=audio,
            voices=voices,
            voice_info=voice_info,
            codecs=codecs,
            sample_rates=sample_rates,
            output_rate=output_rate,
        )
        self.turns = RunningTurns()
        self.closed = False
        self.input_rate: int | None = None  # microphone on: its sample rate
        self._clock = clock
        self._seq = 0
        self._rate = RateWindow(self.limits.max_messages_per_second)

    # ------------------------------------------------------------ what it offers and speaks

    @property
    def voices(self) -> tuple[str, ...]:
        return self.voicing.voices

    @property
    def voice_info(self) -> tuple[VoiceEntry, ...]:
        """Each voice's own rate: a turn in it is sent at that rate unless the client chose one."""
        return self.voicing.voice_info

    @property
    def codecs(self) -> frozenset[str]:
        return self.voicing.codecs

    @property
    def sample_rates(self) -> frozenset[int]:
        return self.voicing.sample_rates

    @property
    def settings(self) -> SpeechSettings:
        """The session's settings now; a running turn keeps those it started with."""
        return self.voicing.settings

    @property
    def requested_rate(self) -> int:
        return self.voicing.requested_rate

    # ------------------------------------------------------------ receiving

    def receive_text(self, data: str, *, rate_limit: bool = True) -> list[Inbound]:
        """A text frame from the peer; `rate_limit=False` for frames already counted (held
        during a resume's replay)."""
        if len(data.encode("utf-8", "surrogatepass")) > self.limits.max_text_frame_bytes:
            return [
                violation(
                    ErrorCode.FRAME_TOO_BIG,
                    f"text frame is larger than {self.limits.max_text_frame_bytes} bytes",
                    CloseCode.TOO_BIG,
                )
            ]
        if rate_limit and self._rate.exceeded(self._clock()):
            return [
                violation(
                    ErrorCode.RATE_LIMITED,
                    f"more than {self.limits.max_messages_per_second} messages per second",
                    CloseCode.RATE_LIMITED,
                )
            ]
        message = parse_message(data)
        return [message] if isinstance(message, Violation) else self._accept(message)

    def receive_bytes(self, data: bytes) -> list[Inbound]:
        # Binary frames are microphone audio, and only between input_audio.start and .stop.
        # They do not count against the message rate: 50 frames a second is normal speech.
        if self.input_rate is None:
            return [
                violation(
                    ErrorCode.UNEXPECTED_BINARY,
                    "binary frames are accepted only between input_audio.start and .stop",
                    CloseCode.UNSUPPORTED_DATA,
                )
            ]
        return [parse_microphone(data, self.input_rate)]

    def _accept(self, message: ClientMessage) -> list[Inbound]:
        if isinstance(message, UserMessage) and len(message.text) > self.limits.max_message_chars:
            return [
                violation(
                    ErrorCode.MESSAGE_TOO_LONG,
                    f"text is longer than {self.limits.max_message_chars} characters",
                )
            ]
        if isinstance(message, TurnCancel):
            if not self.turns.started(message.turn_id):
                return [
                    violation(ErrorCode.UNKNOWN_TURN, f"no turn {message.turn_id} in this session")
                ]
            if not self.turns.is_running(message.turn_id):
                return []  # it ended while the cancel was on its way: nothing to do
        if isinstance(message, SessionUpdate):
            refused = self.voicing.update(message)
            return [refused or message]
        if isinstance(message, UserMessage):
            refused = self.voicing.check_voice(message.voice_name)
            if refused is not None:
                return [refused]
        if isinstance(message, InputAudioStart):
            self.input_rate = message.sample_rate
        elif isinstance(message, InputAudioStop):
            self.input_rate = None
        return [message]

    # ------------------------------------------------------------ sending

    def send(self, message: ServerMessage) -> str:
        """Stamp the next `seq` on `message` and return its text frame."""
        self._check_open("send a message")
        if isinstance(message, TurnEnd):
            self.turns.end(message.turn_id)
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
            next_turn=self.turns.next_turn,
            settings=self.settings,
            requested_rate=self.voicing.requested_rate,
            running=self.turns.running(),
            pinned_rate=self.voicing.pinned_rate,
        )

    def restore(self, snapshot: SessionSnapshot) -> None:
        """Go on with a session another connection (or process) ran: id, seq, turns, settings."""
        self._check_open("restore a session")
        self.session_id = snapshot.session_id
        self._seq = snapshot.seq
        self.turns.restore(snapshot.next_turn, snapshot.running)
        self.voicing.restore(snapshot.settings, snapshot.requested_rate, snapshot.pinned_rate)

    @property
    def next_turn(self) -> int:
        return self.turns.next_turn

    def updated_message(self) -> SessionUpdated:
        s = self.settings
        return SessionUpdated(audio=s.audio, voice=s.voice, voice_name=s.voice_name, rate=s.rate)

    def new_turn(self, message: UserMessage | None = None) -> int:
        """Allocate the next turn id; the turn runs until its `turn.end` is sent. It keeps the
        session's settings, or the voice and rate `message` asks for its reply alone."""
        self._check_open("start a turn")
        return self.turns.start(self.voicing.for_turn(message))

    def turn_settings(self, turn_id: int) -> SpeechSettings:
        """The voice, rate and audio format `turn_id` started with."""
        return self.turns.settings(turn_id, self.settings)

    def turn_codec(self, turn_id: int) -> Codec:
        """The codec `turn_id` was started with: its audio frames say so, whatever came since."""
        return self.turns.codec(turn_id, "look up the codec of")

    def is_running(self, turn_id: int) -> bool:
        return self.turns.is_running(turn_id)

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
        codec = self.turns.codec(turn_id, "send audio for")
        self._seq += 1
        return AudioFrame(
            kind=FrameKind.SPEECH,
            flags=flags,
            codec=CODEC_IDS[codec],
            seq=self._seq,
            turn_id=turn_id,
            segment_id=segment_id,
            sample_offset=sample_offset,
            payload=payload,
        ).encode()

    def close(self) -> None:
        self.closed = True
        self.turns.clear()

    @property
    def seq(self) -> int:
        return self._seq

    def _check_open(self, action: str) -> None:
        if self.closed:
            raise RuntimeError(f"cannot {action}: the session is closed")
