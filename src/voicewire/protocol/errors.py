"""Stable error codes and WebSocket close codes of voicewire.v1 (see PROTOCOL.md)."""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    # The client's fault: the frame or message is wrong.
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_MESSAGE = "invalid_message"
    FRAME_TOO_BIG = "frame_too_big"
    MESSAGE_TOO_LONG = "message_too_long"
    UNEXPECTED_BINARY = "unexpected_binary"
    MICROPHONE_OFF = "microphone_off"
    INVALID_FRAME = "invalid_frame"
    UNKNOWN_TURN = "unknown_turn"
    UNKNOWN_VOICE = "unknown_voice"
    UNSUPPORTED_CODEC = "unsupported_codec"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    IDLE_TIMEOUT = "idle_timeout"
    SLOW_CONSUMER = "slow_consumer"
    REPLY_TOO_LONG = "reply_too_long"
    SERVER_BUSY = "server_busy"
    RESUME_UNAVAILABLE = "resume_unavailable"
    SESSION_RESUMED_ELSEWHERE = "session_resumed_elsewhere"
    # The server's side: an engine failed or the server broke.
    STT_UNAVAILABLE = "stt_unavailable"
    STT_BUSY = "stt_busy"
    STT_FAILED = "stt_failed"
    LLM_FAILED = "llm_failed"
    TTS_FAILED = "tts_failed"
    UNENCODABLE_DATA = "unencodable_data"  # the app's DataItem: JSON cannot encode its payload
    INTERNAL = "internal_error"


class CloseCode(enum.IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    UNSUPPORTED_DATA = 1003
    INVALID_DATA = 1007
    POLICY = 1008
    TOO_BIG = 1009
    INTERNAL = 1011
    TRY_AGAIN_LATER = 1013
    # 4000–4999: application codes.
    IDLE_TIMEOUT = 4000
    SLOW_CONSUMER = 4001
    RESUMED_ELSEWHERE = 4002
    RATE_LIMITED = 4008
    TOO_MANY_CONNECTIONS = 4029


# Closes after which a client resumes the session (PROTOCOL.md §8): the connection went, the
# session did not. Every other code means the session ended on purpose (1000: the client is
# done; 4000: idle; 4002: resumed on another connection; the policy and bad-data codes), and
# a code not listed is taken the same way: resuming after a deliberate close would loop.
# Test vector: tests/vectors/close_codes.json (the browser client has the same table).
RESUMABLE_CLOSE_CODES: frozenset[int] = frozenset(
    {
        1001,  # going away: a server or proxy shutting down
        1006,  # no close frame at all: a dropped connection (never sent on the wire)
        1011,  # internal error; also how an unanswered ping is closed: the peer went
        1012,  # service restart
        1013,  # try again later: a busy server; the session is still kept
        4001,  # slow consumer: the reply went on into the replay log
    }
)
