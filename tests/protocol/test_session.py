"""The Session state machine: bad input never raises, each gets its documented error."""

from __future__ import annotations

import json

import pytest

from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.frames import FrameFlags, decode_frame
from voicewire.protocol.messages import (
    AudioFormat,
    Limits,
    Ping,
    SessionUpdate,
    TextDelta,
    TurnCancel,
    TurnEnd,
    UserMessage,
)
from voicewire.protocol.session import Session, Violation


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


INVALID = ErrorCode.INVALID_MESSAGE


def make_session(clock: FakeClock | None = None, **limits: int) -> Session:
    return Session(
        "s1",
        audio=AudioFormat(sample_rate=22050),
        voices=("joe", "amy"),
        limits=Limits(**limits),
        clock=clock or FakeClock(),
    )


def only_violation(events: list[object]) -> Violation:
    assert len(events) == 1 and isinstance(events[0], Violation), events
    return events[0]


def test_a_valid_user_message_comes_back_as_its_model() -> None:
    events = make_session().receive_text('{"type":"user.message","id":"m1","text":"hi"}')
    assert events == [UserMessage(id="m1", text="hi")]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", ErrorCode.INVALID_JSON),
        ("", ErrorCode.INVALID_JSON),
        ("[1, 2, 3]", ErrorCode.NOT_AN_OBJECT),
        ('"a string"', ErrorCode.NOT_AN_OBJECT),
        ("42", ErrorCode.NOT_AN_OBJECT),
        ("{}", ErrorCode.UNKNOWN_TYPE),
        ('{"type": "nonsense"}', ErrorCode.UNKNOWN_TYPE),
        ('{"type": 7}', ErrorCode.UNKNOWN_TYPE),
        ('{"type": "user.message", "text": "no id"}', ErrorCode.INVALID_MESSAGE),
        ('{"type": "user.message", "id": "m", "text": ""}', ErrorCode.INVALID_MESSAGE),
        ('{"type": "user.message", "id": "m", "text": 5}', ErrorCode.INVALID_MESSAGE),
        ('{"type": "turn.cancel"}', ErrorCode.INVALID_MESSAGE),
        ('{"type": "turn.cancel", "turn_id": "one"}', ErrorCode.INVALID_MESSAGE),
        ('{"type": "turn.cancel", "turn_id": 1, "played_ms": -5}', ErrorCode.INVALID_MESSAGE),
        # Defect 9 of issue 15: past the store's 32-bit column, or Python's int64.
        ('{"type": "turn.cancel", "turn_id": 1, "played_ms": 2147483648}', INVALID),
        (f'{{"type": "turn.cancel", "turn_id": 1, "played_ms": {2**63}}}', INVALID),
        ('{"type": "session.update", "rate": 9}', ErrorCode.INVALID_MESSAGE),
        ('{"type": "session.update", "codec": "wav"}', ErrorCode.INVALID_MESSAGE),
        ('{"type": "session.update", "voice_name": "nobody"}', ErrorCode.UNKNOWN_VOICE),
        ('{"type": "session.update", "codec": "opus"}', ErrorCode.UNSUPPORTED_CODEC),
        ('{"type": "session.update", "sample_rate": 16000}', ErrorCode.UNSUPPORTED_CODEC),
        ('{"type": "turn.cancel", "turn_id": 99}', ErrorCode.UNKNOWN_TURN),
    ],
)
def test_bad_text_frame_gets_an_error_and_keeps_the_connection(frame: str, code: str) -> None:
    violation = only_violation(make_session().receive_text(frame))
    assert violation.error.code == code
    assert violation.error.message
    assert violation.close_code is None


def test_oversized_text_frame_closes_with_1009() -> None:
    session = make_session(max_text_frame_bytes=100)
    violation = only_violation(session.receive_text('{"type":"ping","id":"' + "x" * 200 + '"}'))
    assert violation.error.code == ErrorCode.FRAME_TOO_BIG
    assert violation.close_code == CloseCode.TOO_BIG == 1009


def test_size_limit_counts_utf8_bytes_not_characters() -> None:
    session = make_session(max_text_frame_bytes=100)
    frame = '{"type":"ping","id":"' + "é" * 40 + '"}'  # 62 chars, 102 bytes
    assert only_violation(session.receive_text(frame)).close_code == 1009


def test_lone_surrogates_do_not_raise() -> None:
    violation = only_violation(make_session().receive_text('{"type": "\ud800"}'))
    assert violation.error.code == ErrorCode.UNKNOWN_TYPE


def test_too_long_user_text_gets_message_too_long() -> None:
    session = make_session(max_message_chars=10)
    frame = json.dumps({"type": "user.message", "id": "m", "text": "x" * 11})
    violation = only_violation(session.receive_text(frame))
    assert violation.error.code == ErrorCode.MESSAGE_TOO_LONG
    assert violation.close_code is None


def test_binary_frame_is_refused_with_1003() -> None:
    violation = only_violation(make_session().receive_bytes(b"\x01\x02"))
    assert violation.error.code == ErrorCode.UNEXPECTED_BINARY
    assert violation.close_code == CloseCode.UNSUPPORTED_DATA == 1003


def test_too_many_messages_per_second_closes_with_rate_limited() -> None:
    clock = FakeClock()
    session = make_session(clock, max_messages_per_second=5)
    for _ in range(5):
        assert session.receive_text('{"type":"ping"}') == [Ping()]
    violation = only_violation(session.receive_text('{"type":"ping"}'))
    assert violation.error.code == ErrorCode.RATE_LIMITED
    assert violation.close_code == CloseCode.RATE_LIMITED
    clock.now = 2.0
    assert session.receive_text('{"type":"ping"}') == [Ping()]


def test_cancel_of_a_running_turn_is_accepted() -> None:
    session = make_session()
    turn = session.new_turn()
    events = session.receive_text(json.dumps({"type": "turn.cancel", "turn_id": turn}))
    assert events == [TurnCancel(turn_id=turn)]


def test_cancel_with_the_largest_played_ms_is_accepted() -> None:
    session = make_session()
    turn = session.new_turn()
    frame = {"type": "turn.cancel", "turn_id": turn, "played_ms": 2_147_483_647}
    events = session.receive_text(json.dumps(frame))
    assert events == [TurnCancel(turn_id=turn, played_ms=2_147_483_647)]


def test_cancel_of_a_turn_that_already_ended_is_silently_ignored() -> None:
    session = make_session()
    turn = session.new_turn()
    session.send(TurnEnd(turn_id=turn, status="complete", text="done"))
    assert session.receive_text(json.dumps({"type": "turn.cancel", "turn_id": turn})) == []


def test_session_update_changes_the_settings() -> None:
    session = make_session()
    events = session.receive_text('{"type":"session.update","voice":false,"voice_name":"amy"}')
    assert events == [SessionUpdate(voice=False, voice_name="amy")]
    assert session.settings.voice is False
    assert session.settings.voice_name == "amy"
    assert session.updated_message().voice_name == "amy"


def test_seq_strictly_increases_across_text_and_audio() -> None:
    session = make_session()
    ready = json.loads(session.send(session.ready_message()))
    turn = session.new_turn()
    delta = json.loads(session.send(TextDelta(turn_id=turn, text="hi")))
    frame = decode_frame(session.audio(turn, 0, b"\x00\x00", sample_offset=0))
    end = json.loads(session.send(TurnEnd(turn_id=turn, status="complete", text="hi")))
    assert [ready["seq"], delta["seq"], frame.seq, end["seq"]] == [1, 2, 3, 4]


def test_audio_frame_carries_turn_segment_offset_and_flags() -> None:
    session = make_session()
    turn = session.new_turn()
    data = session.audio(turn, 2, b"\x01\x00", sample_offset=441, flags=FrameFlags.SEGMENT_END)
    frame = decode_frame(data)
    assert (frame.turn_id, frame.segment_id, frame.sample_offset) == (turn, 2, 441)
    assert frame.flags == FrameFlags.SEGMENT_END
    assert frame.payload == b"\x01\x00"


def test_sending_audio_after_turn_end_is_a_local_error() -> None:
    session = make_session()
    turn = session.new_turn()
    session.send(TurnEnd(turn_id=turn, status="interrupted", text=""))
    with pytest.raises(RuntimeError, match="not running"):
        session.audio(turn, 0, b"", sample_offset=0)


def test_sending_after_close_is_a_local_error() -> None:
    session = make_session()
    session.close()
    with pytest.raises(RuntimeError, match="closed"):
        session.send(session.ready_message())


def test_ending_a_turn_twice_is_a_local_error() -> None:
    session = make_session()
    turn = session.new_turn()
    session.send(TurnEnd(turn_id=turn, status="complete", text=""))
    with pytest.raises(RuntimeError, match="not running"):
        session.send(TurnEnd(turn_id=turn, status="complete", text=""))


@pytest.mark.parametrize("kind", ['{"a": 1}', "[1]", "1.5", "null", "true"])
def test_a_non_string_type_is_an_unknown_type(kind: str) -> None:
    violation = only_violation(make_session().receive_text('{"type": ' + kind + "}"))
    assert violation.error.code == ErrorCode.UNKNOWN_TYPE


def mic_frame(payload: bytes = b"\x01\x00\x02\x00", kind: int = 2, codec: int = 0) -> bytes:
    from voicewire.protocol.frames import AudioFrame, CodecId, FrameKind

    return AudioFrame(
        FrameKind(kind), FrameFlags.NONE, CodecId(codec), 1, 0, 0, 0, payload
    ).encode()


def test_microphone_frames_are_accepted_between_input_audio_start_and_stop() -> None:
    from voicewire.protocol.session import MicrophoneAudio

    session = make_session()
    assert only_violation(session.receive_bytes(mic_frame())).close_code == 1003
    [start] = session.receive_text('{"type": "input_audio.start", "sample_rate": 16000}')
    assert start.type == "input_audio.start"  # type: ignore[union-attr]
    assert session.receive_bytes(mic_frame()) == [MicrophoneAudio(b"\x01\x00\x02\x00", 16000)]
    session.receive_text('{"type": "input_audio.stop"}')
    assert only_violation(session.receive_bytes(mic_frame())).close_code == 1003


@pytest.mark.parametrize(
    "frame",
    [b"\x01\x02", mic_frame(kind=1), mic_frame(codec=1), mic_frame(payload=b"\x01")],
    ids=["truncated", "speech_kind", "opus_codec", "odd_length"],
)
def test_a_bad_microphone_frame_closes_with_1007(frame: bytes) -> None:
    session = make_session()
    session.receive_text('{"type": "input_audio.start"}')
    violation = only_violation(session.receive_bytes(frame))
    assert violation.error.code == ErrorCode.INVALID_FRAME
    assert violation.close_code == CloseCode.INVALID_DATA == 1007


def test_microphone_frames_do_not_count_against_the_message_rate() -> None:
    session = make_session(max_messages_per_second=5)
    session.receive_text('{"type": "input_audio.start"}')
    for _ in range(100):
        assert not isinstance(session.receive_bytes(mic_frame())[0], Violation)
