"""Checking the peer's frames: a message or a Violation, never an exception."""

from __future__ import annotations

from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.frames import AudioFrame, CodecId, FrameFlags, FrameKind
from voicewire.protocol.messages import Ping
from voicewire.protocol.state import MicrophoneAudio, Violation
from voicewire.protocol.validation import parse_message, parse_microphone


def microphone(payload: bytes, kind: FrameKind = FrameKind.MICROPHONE) -> bytes:
    return AudioFrame(
        kind=kind,
        flags=FrameFlags.NONE,
        codec=CodecId.PCM16,
        seq=1,
        turn_id=0,
        segment_id=0,
        sample_offset=0,
        payload=payload,
    ).encode()


def test_a_valid_text_frame_parses_to_its_message() -> None:
    assert isinstance(parse_message('{"type":"ping"}'), Ping)


def test_an_invalid_text_frame_is_a_violation_that_keeps_the_connection() -> None:
    result = parse_message('{"type":"user.message"}')
    assert isinstance(result, Violation) and result.close_code is None
    assert result.error.code == ErrorCode.INVALID_MESSAGE


def test_a_microphone_frame_carries_its_pcm_at_the_rate_the_microphone_started_with() -> None:
    assert parse_microphone(microphone(b"\x01\x00"), 16000) == MicrophoneAudio(b"\x01\x00", 16000)


def test_a_speech_frame_or_odd_pcm_from_the_client_closes_with_invalid_data() -> None:
    for frame in (microphone(b"\x00\x00", FrameKind.SPEECH), microphone(b"\x00")):
        result = parse_microphone(frame, 16000)
        assert isinstance(result, Violation) and result.close_code == CloseCode.INVALID_DATA
