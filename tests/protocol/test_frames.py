"""The binary header codec against the shared hex vectors (the JS client uses the same file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voicewire.protocol.frames import (
    HEADER_SIZE,
    AudioFrame,
    CodecId,
    FrameError,
    FrameFlags,
    FrameKind,
    decode_frame,
)

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "frames.json").read_text())


def test_header_is_twenty_bytes() -> None:
    assert HEADER_SIZE == VECTORS["header_size"] == 20


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["name"])
def test_valid_vector_decodes_to_its_fields_and_reencodes_byte_exact(
    vector: dict[str, Any],
) -> None:
    data = bytes.fromhex(vector["hex"])
    frame = decode_frame(data)
    h = vector["header"]
    assert (frame.kind, frame.flags, frame.codec) == (h["kind"], h["flags"], h["codec"])
    assert (frame.seq, frame.turn_id, frame.segment_id) == (h["seq"], h["turn_id"], h["segment_id"])
    assert frame.sample_offset == h["sample_offset"]
    assert frame.payload.hex() == vector["payload_hex"]
    assert frame.encode() == data


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vector_raises_frame_error_naming_the_problem(vector: dict[str, Any]) -> None:
    with pytest.raises(FrameError, match=vector["error"]):
        decode_frame(bytes.fromhex(vector["hex"]))


@given(st.binary(max_size=64))
def test_decoding_arbitrary_bytes_raises_nothing_but_frame_error(data: bytes) -> None:
    try:
        frame = decode_frame(data)
    except FrameError:
        return
    assert frame.encode() == data


@given(
    kind=st.sampled_from(FrameKind),
    flags=st.sampled_from([FrameFlags(i) for i in range(4)]),
    codec=st.sampled_from(CodecId),
    seq=st.integers(0, 2**32 - 1),
    turn=st.integers(0, 2**32 - 1),
    segment=st.integers(0, 2**16 - 1),
    offset=st.integers(0, 2**32 - 1),
    payload=st.binary(max_size=32),
)
def test_any_frame_round_trips(
    kind: FrameKind,
    flags: FrameFlags,
    codec: CodecId,
    seq: int,
    turn: int,
    segment: int,
    offset: int,
    payload: bytes,
) -> None:
    frame = AudioFrame(kind, flags, codec, seq, turn, segment, offset, payload)
    assert decode_frame(frame.encode()) == frame
