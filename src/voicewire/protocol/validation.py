"""Checking what the peer sent: a frame becomes a message, or a `Violation` to answer. No I/O.

Nothing here raises to the caller (h11's rule): bad input from the peer is returned as a
`Violation` naming the error to send and, where the connection must end, the close code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from pydantic import ValidationError

from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.frames import CodecId, FrameError, FrameKind, decode_frame
from voicewire.protocol.messages import (
    CLIENT_TYPES,
    ClientMessage,
    Error,
    client_message_adapter,
)
from voicewire.protocol.state import MicrophoneAudio, Violation


def violation(code: ErrorCode, message: str, close_code: CloseCode | None = None) -> Violation:
    return Violation(Error(code=code, message=message), close_code)


def unknown_voice(name: str | None, voices: Iterable[str]) -> Violation:
    available = ", ".join(voices)
    return violation(ErrorCode.UNKNOWN_VOICE, f"unknown voice {name!r}; available: {available}")


def unavailable(what: str, value: str | int, offered: Iterable[str | int]) -> Violation:
    """A codec or sample rate the server does not offer, with the ones it does."""
    shown = repr(value) if isinstance(value, str) else value
    available = ", ".join(map(str, offered))
    detail = f"{what} {shown} is not available; available: {available}"
    return violation(ErrorCode.UNSUPPORTED_CODEC, detail)


def parse_message(data: str) -> ClientMessage | Violation:
    """A text frame's client message: JSON, an object, a known `type`, valid fields."""
    try:
        obj = json.loads(data)
    except ValueError as exc:
        return violation(ErrorCode.INVALID_JSON, f"not JSON: {exc}", None)
    if not isinstance(obj, dict):
        return violation(ErrorCode.NOT_AN_OBJECT, "a frame must be a JSON object")
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        return violation(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind!r}")
    try:
        return client_message_adapter.validate_python(obj)
    except ValidationError as exc:
        detail = "; ".join(
            f"{'.'.join(map(str, e['loc'][1:])) or 'message'}: {e['msg']}" for e in exc.errors()
        )
        return violation(ErrorCode.INVALID_MESSAGE, f"invalid {kind}: {detail}")


def parse_microphone(data: bytes, sample_rate: int) -> MicrophoneAudio | Violation:
    """A binary frame of microphone audio, once the microphone is on at `sample_rate`."""
    try:
        frame = decode_frame(data)
    except FrameError as exc:
        return violation(ErrorCode.INVALID_FRAME, str(exc), CloseCode.INVALID_DATA)
    if frame.kind != FrameKind.MICROPHONE or frame.codec != CodecId.PCM16:
        return violation(
            ErrorCode.INVALID_FRAME,
            "client frames must be microphone audio (kind 2) in pcm16 (codec 0)",
            CloseCode.INVALID_DATA,
        )
    if len(frame.payload) % 2:
        return violation(
            ErrorCode.INVALID_FRAME, "pcm16 payload of odd length", CloseCode.INVALID_DATA
        )
    return MicrophoneAudio(frame.payload, sample_rate)
