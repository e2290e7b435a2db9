"""The Session and voices: choosing one per session or per message, and each turn's audio format."""

from __future__ import annotations

import json

from voicewire.protocol.errors import ErrorCode
from voicewire.protocol.messages import (
    AudioFormat,
    SessionUpdate,
    TurnEnd,
    UserMessage,
    VoiceEntry,
)
from voicewire.protocol.session import Session, Violation

VOICES = (
    VoiceEntry(name="joe", language="en-US", sample_rate=22050),
    VoiceEntry(name="slow", language="en-US", sample_rate=16000),
)


def make_session() -> Session:
    return Session(
        "s1",
        audio=AudioFormat(sample_rate=22050),
        voices=tuple(v.name for v in VOICES),
        voice_info=VOICES,
        sample_rates=frozenset({16000, 22050, 24000}),
        codecs=frozenset({"pcm16", "opus"}),
        output_rate=lambda codec, rate: 48000 if codec == "opus" else rate,
    )


def message(**fields: object) -> str:
    return json.dumps({"type": "user.message", "id": "m1", "text": "hi", **fields})


def update(**fields: object) -> str:
    return json.dumps({"type": "session.update", **fields})


def test_session_ready_lists_each_voice_with_its_language_and_sample_rate() -> None:
    session = make_session()
    ready = json.loads(session.send(session.ready_message()))
    assert ready["voices"] == ["joe", "slow"]
    assert ready["voice_info"] == [
        {"name": "joe", "language": "en-US", "sample_rate": 22050},
        {"name": "slow", "language": "en-US", "sample_rate": 16000},
    ]


def test_a_message_naming_a_voice_and_rate_gets_them_for_its_turn_alone() -> None:
    session = make_session()
    [msg] = session.receive_text(message(voice_name="slow", rate=1.5))
    assert isinstance(msg, UserMessage)
    turn = session.new_turn(msg)
    s = session.turn_settings(turn)
    assert (s.voice_name, s.rate, s.audio.sample_rate) == ("slow", 1.5, 16000)
    assert session.settings.voice_name == "joe" and session.settings.audio.sample_rate == 22050
    session.send(TurnEnd(turn_id=turn, status="complete", text=""))
    following = session.new_turn(UserMessage(id="m2", text="hi"))
    assert session.turn_settings(following) == session.settings


def test_a_message_naming_an_unknown_voice_is_refused_and_starts_nothing() -> None:
    [violation] = make_session().receive_text(message(voice_name="zoe"))
    assert isinstance(violation, Violation) and violation.close_code is None
    assert violation.error.code == ErrorCode.UNKNOWN_VOICE
    assert "available: joe, slow" in violation.error.message


def test_choosing_a_voice_of_another_rate_changes_the_sessions_audio_to_its_rate() -> None:
    session = make_session()
    assert isinstance(session.receive_text(update(voice_name="slow"))[0], SessionUpdate)
    assert session.updated_message().audio == AudioFormat(sample_rate=16000)
    session.receive_text(update(voice_name="joe"))
    assert session.settings.audio.sample_rate == 22050


def test_a_rate_the_client_chose_is_kept_for_every_voice_and_survives_a_snapshot() -> None:
    session = make_session()
    session.receive_text(update(sample_rate=24000))
    session.receive_text(update(voice_name="slow"))
    assert session.settings.audio.sample_rate == 24000
    turn = session.new_turn(UserMessage(id="m", text="hi", voice_name="joe"))
    assert session.turn_settings(turn).audio.sample_rate == 24000
    other = make_session()
    other.restore(session.snapshot())
    other.receive_text(update(voice_name="joe"))
    assert other.settings.audio.sample_rate == 24000


def test_opus_stays_at_48_khz_whatever_the_voice() -> None:
    session = make_session()
    session.receive_text(update(codec="opus"))
    turn = session.new_turn(UserMessage(id="m", text="hi", voice_name="slow"))
    assert session.turn_settings(turn).audio == AudioFormat(codec="opus", sample_rate=48000)
