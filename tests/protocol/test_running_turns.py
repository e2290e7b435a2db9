"""RunningTurns: turn ids handed out in order, each running turn keeping what it started with."""

from __future__ import annotations

import pytest

from voicewire.protocol.messages import AudioFormat
from voicewire.protocol.state import SpeechSettings
from voicewire.protocol.turns import RunningTurns

PCM = SpeechSettings(voice=True, voice_name="joe", rate=1.0, audio=AudioFormat())
OPUS = SpeechSettings(
    voice=True, voice_name="joe", rate=1.0, audio=AudioFormat(codec="opus", sample_rate=48000)
)


def test_turn_ids_count_up_from_one_and_an_ended_turn_stays_started() -> None:
    turns = RunningTurns()
    first, second = turns.start(PCM), turns.start(OPUS)
    assert (first, second, turns.next_turn) == (1, 2, 3)
    turns.end(first)
    assert not turns.is_running(first) and turns.started(first) and not turns.started(3)
    assert turns.running() == ((2, "opus"),)


def test_each_running_turn_keeps_the_codec_and_settings_it_started_with() -> None:
    turns = RunningTurns()
    turn = turns.start(OPUS)
    assert turns.codec(turn, "send audio for") == "opus"
    assert turns.settings(turn, PCM) == OPUS


def test_acting_on_a_turn_that_is_not_running_raises_naming_the_action() -> None:
    turns = RunningTurns()
    with pytest.raises(RuntimeError, match="cannot end turn 1: it is not running"):
        turns.end(1)
    turns.start(PCM)
    turns.clear()
    with pytest.raises(RuntimeError, match="cannot send audio for turn 1: it is not running"):
        turns.codec(1, "send audio for")


def test_a_restored_turn_keeps_its_codec_and_takes_the_given_settings() -> None:
    turns = RunningTurns()
    turns.restore(7, ((6, "opus"),))
    assert turns.next_turn == 7 and turns.codec(6, "look up the codec of") == "opus"
    assert turns.settings(6, PCM) == PCM
