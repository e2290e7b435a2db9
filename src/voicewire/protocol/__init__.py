"""The voicewire.v1 protocol core: messages, the binary frame codec and the Session. No I/O."""

from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.frames import (
    HEADER_SIZE,
    AudioFrame,
    CodecId,
    FrameError,
    FrameFlags,
    FrameKind,
    decode_frame,
)
from voicewire.protocol.messages import PROTOCOL_VERSION
from voicewire.protocol.session import Inbound, Session, SpeechSettings, Violation

__all__ = [
    "HEADER_SIZE",
    "PROTOCOL_VERSION",
    "AudioFrame",
    "CloseCode",
    "CodecId",
    "ErrorCode",
    "FrameError",
    "FrameFlags",
    "FrameKind",
    "Inbound",
    "Session",
    "SpeechSettings",
    "Violation",
    "decode_frame",
]
