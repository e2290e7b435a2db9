"""Voicing: the rate a turn is sent at, from the client's rate, the voice's and the codec's."""

from __future__ import annotations

from voicewire.protocol.errors import ErrorCode
from voicewire.protocol.messages import AudioFormat, SessionUpdate, UserMessage, VoiceEntry
from voicewire.protocol.voicing import Voicing

VOICES = (
    VoiceEntry(name="joe", language="en-US", sample_rate=22050),
    VoiceEntry(name="slow", language="en-US", sample_rate=16000),
)


def make_voicing() -> Voicing:
    return Voicing(
        audio=AudioFormat(sample_rate=22050),
        voices=("joe", "slow"),
        voice_info=VOICES,
        codecs=frozenset({"pcm16", "opus"}),
        sample_rates=frozenset({16000, 22050, 24000}),
        output_rate=lambda codec, rate: 48000 if codec == "opus" else rate,
    )


def test_a_voice_is_sent_at_its_own_rate_until_the_client_pins_one() -> None:
    v = make_voicing()
    assert v.update(SessionUpdate(voice_name="slow")) is None
    assert v.settings.audio.sample_rate == 16000 and not v.pinned_rate
    assert v.update(SessionUpdate(sample_rate=24000)) is None
    assert v.update(SessionUpdate(voice_name="joe")) is None
    assert v.settings.audio.sample_rate == 24000 and v.pinned_rate


def test_switching_back_from_opus_gets_the_requested_rate_again() -> None:
    v = make_voicing()
    v.update(SessionUpdate(codec="opus"))
    assert v.settings.audio == AudioFormat(codec="opus", sample_rate=48000)
    v.update(SessionUpdate(codec="pcm16"))
    assert v.settings.audio == AudioFormat(codec="pcm16", sample_rate=22050)


def test_a_refused_update_changes_nothing_and_names_what_is_available() -> None:
    v = make_voicing()
    before = v.settings
    refused = v.update(SessionUpdate(codec="mp3"))
    assert refused is not None and refused.error.code == ErrorCode.UNSUPPORTED_CODEC
    assert refused.error.message == "codec 'mp3' is not available; available: opus, pcm16"
    unknown = v.update(SessionUpdate(voice_name="amy"))
    assert unknown is not None and unknown.error.code == ErrorCode.UNKNOWN_VOICE
    assert v.settings is before


def test_a_message_asking_for_nothing_gets_the_session_settings_themselves() -> None:
    v = make_voicing()
    assert v.for_turn(None) is v.settings
    assert v.for_turn(UserMessage(id="m", text="hi")) is v.settings
    s = v.for_turn(UserMessage(id="m", text="hi", voice_name="slow", rate=0.5))
    assert (s.voice_name, s.rate, s.audio.sample_rate) == ("slow", 0.5, 16000)
