"""Message models of the voicewire.v1 protocol: every JSON text frame, both directions.

The same frozen models are used to send and to receive (as in h11/wsproto). Unknown fields are
ignored so that newer peers can add fields without breaking older ones.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

PROTOCOL_VERSION = "voicewire.v1"

Codec = Literal["pcm16", "opus", "mp3"]
TurnStatus = Literal["complete", "interrupted", "failed"]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# ---------------------------------------------------------------- client → server


class SessionUpdate(_Message):
    """Change the session's speech settings; fields left out keep their value."""

    type: Literal["session.update"] = "session.update"
    voice: bool | None = None
    voice_name: str | None = Field(default=None, max_length=200)
    rate: float | None = Field(default=None, ge=0.5, le=2.0)
    codec: Codec | None = None
    sample_rate: int | None = Field(default=None, ge=8000, le=48000)


class UserMessage(_Message):
    type: Literal["user.message"] = "user.message"
    id: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1)
    voice: bool = True
    # This reply alone is spoken in this voice (one of `session.ready.voices`) and at this rate.
    voice_name: str | None = Field(default=None, max_length=200)
    rate: float | None = Field(default=None, ge=0.5, le=2.0)


# The largest `turn.cancel.played_ms` (~24.8 days): what a signed 32-bit integer holds, as the
# store's column does on PostgreSQL. A larger value is an `invalid_message` like any bad field.
MAX_PLAYED_MS = 2**31 - 1


class TurnCancel(_Message):
    type: Literal["turn.cancel"] = "turn.cancel"
    turn_id: int = Field(ge=1)
    played_ms: int | None = Field(default=None, ge=0, le=MAX_PLAYED_MS)


class Ping(_Message):
    type: Literal["ping"] = "ping"
    id: str | None = Field(default=None, max_length=200)


class InputAudioStart(_Message):
    """The client starts sending microphone audio (binary frames of kind 2, pcm16 mono)."""

    type: Literal["input_audio.start"] = "input_audio.start"
    sample_rate: int = Field(default=16000, ge=8000, le=48000)
    # "vad": the server ends each utterance after a pause; "manual": `input_audio.stop` does.
    end: Literal["vad", "manual"] = "vad"
    voice: bool = True  # whether the replies to these utterances are spoken


class InputAudioStop(_Message):
    """The utterance is over (push-to-talk released); the microphone is off."""

    type: Literal["input_audio.stop"] = "input_audio.stop"


# The longest gap one `playback.underrun` reports: longer silences are reported in pieces.
MAX_UNDERRUN_MS = 60_000


class PlaybackUnderrun(_Message):
    """The client's playback ran dry: `silence_ms` of silence while a turn's audio was due,
    starting `at_ms` into the turn's audio (on the client's audio clock)."""

    type: Literal["playback.underrun"] = "playback.underrun"
    turn_id: int = Field(ge=1)
    silence_ms: int = Field(ge=1, le=MAX_UNDERRUN_MS)
    at_ms: int = Field(ge=0, le=MAX_PLAYED_MS)


ClientMessage = Annotated[
    SessionUpdate
    | UserMessage
    | TurnCancel
    | Ping
    | InputAudioStart
    | InputAudioStop
    | PlaybackUnderrun,
    Field(discriminator="type"),
]
CLIENT_TYPES = frozenset(
    {
        "session.update",
        "user.message",
        "turn.cancel",
        "ping",
        "input_audio.start",
        "input_audio.stop",
        "playback.underrun",
    }
)
client_message_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


# ---------------------------------------------------------------- server → client


class AudioFormat(_Message):
    codec: Codec = "pcm16"
    sample_rate: int = 22050
    channels: Literal[1] = 1


class VoiceEntry(_Message):
    """A voice the server offers: its name, language (BCP 47, e.g. "en-US") and native rate."""

    name: str
    language: str | None = None
    sample_rate: int


class Limits(_Message):
    """Limits the server enforces; advertised in `session.ready`."""

    max_text_frame_bytes: int = 65536
    max_message_chars: int = 4000
    max_messages_per_second: int = 20


class _Event(_Message):
    # Stamped by the Session when the event is sent; strictly increasing per session.
    seq: int = 0


class SessionReady(_Event):
    type: Literal["session.ready"] = "session.ready"
    session_id: str
    protocol: str = PROTOCOL_VERSION
    audio: AudioFormat
    voice: bool = True
    voices: tuple[str, ...] = ()
    voice_name: str | None = None
    rate: float = 1.0
    limits: Limits = Limits()
    # `voices` again, with each one's language and sample rate (same order).
    voice_info: tuple[VoiceEntry, ...] = ()
    # Where this session's messages are stored, and the token a new guest must keep to
    # come back to its history (absent when the client connected with a token).
    conversation_id: str | None = None
    guest_token: str | None = None
    # Reconnect with it and the last seq processed to resume this session (PROTOCOL.md §8).
    resume_token: str | None = None


class SessionResumed(_Event):
    """The first frame of a resumed session; its `seq` is the client's `last_seq`, not a new one."""

    type: Literal["session.resumed"] = "session.resumed"
    session_id: str


class SessionUpdated(_Event):
    type: Literal["session.updated"] = "session.updated"
    audio: AudioFormat
    voice: bool
    voice_name: str | None
    rate: float


class TurnStart(_Event):
    type: Literal["turn.start"] = "turn.start"
    turn_id: int
    reply_to: str
    # Set when this turn's audio is not in the session's `audio` format (a voice of another
    # sample rate): its frames are in this one. And its voice, when not the session's.
    audio: AudioFormat | None = None
    voice_name: str | None = None


class TextDelta(_Event):
    type: Literal["text.delta"] = "text.delta"
    turn_id: int
    text: str


class Data(_Event):
    type: Literal["data"] = "data"
    turn_id: int
    kind: str
    payload: Any


class SegmentStart(_Event):
    type: Literal["segment.start"] = "segment.start"
    turn_id: int
    segment_id: int
    text: str  # reply[char_start:char_end], the original characters
    speech: str  # what the voice reads (markdown, emoji and code removed)
    char_start: int
    char_end: int


class WordTiming(_Message):
    text: str
    start_ms: int
    end_ms: int
    char_start: int
    char_end: int


class SegmentEnd(_Event):
    type: Literal["segment.end"] = "segment.end"
    turn_id: int
    segment_id: int
    duration_ms: int
    samples: int
    words: tuple[WordTiming, ...] = ()


class TurnEnd(_Event):
    type: Literal["turn.end"] = "turn.end"
    turn_id: int
    status: TurnStatus
    text: str
    played_ms: int | None = None
    # Set when `text` was cut to what the user heard: everything the responder produced.
    generated_text: str | None = None


class Error(_Event):
    type: Literal["error"] = "error"
    code: str
    message: str
    turn_id: int | None = None


class SpeechStarted(_Event):
    """The user started speaking (a running turn is interrupted: barge-in by voice)."""

    type: Literal["input_audio.speech_started"] = "input_audio.speech_started"
    utterance_id: str


class Transcript(_Event):
    """What the user said so far (`final: false`) or in the end (`final: true`)."""

    type: Literal["input_audio.transcript"] = "input_audio.transcript"
    utterance_id: str
    text: str
    final: bool


class Pong(_Event):
    type: Literal["pong"] = "pong"
    id: str | None = None


class ToolCall(_Event):
    """The model called one of the app's tools (its result follows in `tool.result`)."""

    type: Literal["tool.call"] = "tool.call"
    turn_id: int
    call_id: str
    name: str
    arguments: Any  # as the model wrote them: parsed JSON, or the raw text when not JSON


class ToolResult(_Event):
    """A tool call ended; `result` only for tools the app marks visible."""

    type: Literal["tool.result"] = "tool.result"
    turn_id: int
    call_id: str
    name: str
    status: Literal["ok", "error", "timeout", "cancelled"]
    duration_ms: int
    result: Any = None


class Notice(_Event):
    """Something the user should know that is not an error: e.g. this turn is text only."""

    type: Literal["notice"] = "notice"
    code: str
    message: str
    turn_id: int | None = None


ServerMessage = Annotated[
    SessionReady
    | SessionResumed
    | SessionUpdated
    | TurnStart
    | TextDelta
    | Data
    | SegmentStart
    | SegmentEnd
    | TurnEnd
    | Error
    | SpeechStarted
    | Transcript
    | Pong
    | ToolCall
    | ToolResult
    | Notice,
    Field(discriminator="type"),
]
server_message_adapter: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)
