"""Controls between processes: typed on both sides, JSON with a `type` on the wire."""

from __future__ import annotations

import json

import pytest

from voicewire.resume import (
    BadControl,
    CancelTurn,
    Control,
    Takeover,
    decode_control,
    encode_control,
)


@pytest.mark.parametrize(
    "control",
    [Takeover(), CancelTurn(turn_id=3, played_ms=1250), CancelTurn(turn_id=None, played_ms=None)],
)
def test_a_control_comes_back_from_its_json_as_it_went(control: Control) -> None:
    raw = encode_control("s1", control)
    assert json.loads(raw)["type"] in ("takeover", "cancel")
    assert decode_control(raw) == ("s1", control)
    assert decode_control(raw.encode()) == ("s1", control)


def test_the_wire_format_is_the_one_older_processes_published() -> None:
    assert json.loads(encode_control("s1", Takeover())) == {"sid": "s1", "type": "takeover"}
    assert json.loads(encode_control("s1", CancelTurn(2, 150))) == {
        "sid": "s1",
        "type": "cancel",
        "turn_id": 2,
        "played_ms": 150,
    }


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe",
        "not json",
        "[]",
        '"takeover"',
        '{"type": "takeover"}',
        '{"type": "takeover", "sid": 5}',
        '{"type": "explode", "sid": "s1"}',
        '{"sid": "s1"}',
        '{"type": "cancel", "sid": "s1", "turn_id": "2"}',
        '{"type": "cancel", "sid": "s1", "turn_id": 2, "played_ms": 1.5}',
        '{"type": "cancel", "sid": "s1", "turn_id": false}',
    ],
)
def test_a_message_that_is_not_a_control_is_refused_with_a_bad_control(raw: str | bytes) -> None:
    with pytest.raises(BadControl):
        decode_control(raw)


def test_controls_are_frozen_values() -> None:
    assert CancelTurn(1, None) == CancelTurn(turn_id=1, played_ms=None)
    assert Takeover() == Takeover()
    with pytest.raises(AttributeError):
        CancelTurn(1, None).turn_id = 2  # type: ignore[misc]
