"""The binary audio frame: a fixed 20-byte little-endian header, then the payload.

offset size field
0      1    version        = 1
1      1    kind           1 = speech (server→client), 2 = microphone (client→server, reserved)
2      1    flags          bit 0 SEGMENT_START, bit 1 SEGMENT_END
3      1    codec          0 = pcm16 (s16le mono), 1 = opus, 2 = mp3
4      4    seq            u32, the session's event sequence number
8      4    turn_id        u32
12     2    segment_id     u16
14     2    reserved       must be 0
16     4    sample_offset  u32, first sample of this frame within its segment
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from voicewire.errors import VoicewireError
from voicewire.protocol.errors import CloseCode, ErrorCode

HEADER = struct.Struct("<BBBBIIHHI")
HEADER_SIZE = HEADER.size
FRAME_VERSION = 1


class FrameKind(enum.IntEnum):
    SPEECH = 1
    MICROPHONE = 2


class FrameFlags(enum.IntFlag):
    NONE = 0
    SEGMENT_START = 1
    SEGMENT_END = 2


class CodecId(enum.IntEnum):
    PCM16 = 0
    OPUS = 1
    MP3 = 2


CODEC_IDS = {"pcm16": CodecId.PCM16, "opus": CodecId.OPUS, "mp3": CodecId.MP3}


class FrameError(
    VoicewireError, ValueError, code=ErrorCode.INVALID_FRAME, close_code=CloseCode.INVALID_DATA
):
    """The remote peer sent bytes that are not a valid voicewire.v1 audio frame."""


@dataclass(frozen=True, slots=True)
class AudioFrame:
    kind: FrameKind
    flags: FrameFlags
    codec: CodecId
    seq: int
    turn_id: int
    segment_id: int
    sample_offset: int
    payload: bytes

    def encode(self) -> bytes:
        return encode_header(self) + self.payload


def encode_header(frame: AudioFrame) -> bytes:
    return HEADER.pack(
        FRAME_VERSION,
        frame.kind,
        frame.flags,
        frame.codec,
        frame.seq,
        frame.turn_id,
        frame.segment_id,
        0,
        frame.sample_offset,
    )


def decode_frame(data: bytes) -> AudioFrame:
    """Parse one binary frame; raises FrameError (never anything else) on bad input."""
    if len(data) < HEADER_SIZE:
        raise FrameError(
            f"frame of {len(data)} bytes is shorter than the {HEADER_SIZE}-byte header"
        )
    version, kind, flags, codec, seq, turn_id, segment_id, reserved, offset = HEADER.unpack_from(
        data
    )
    if version != FRAME_VERSION:
        raise FrameError(f"unsupported frame version {version}, expected {FRAME_VERSION}")
    if reserved != 0:
        raise FrameError("reserved header field must be 0")
    if kind not in _KINDS:
        raise FrameError(f"unknown frame kind {kind}")
    if codec not in _CODECS:
        raise FrameError(f"unknown codec {codec}")
    if flags & ~0b11:
        raise FrameError(f"unknown flag bits 0x{flags:02x}")
    return AudioFrame(
        kind=FrameKind(kind),
        flags=FrameFlags(flags),
        codec=CodecId(codec),
        seq=seq,
        turn_id=turn_id,
        segment_id=segment_id,
        sample_offset=offset,
        payload=bytes(data[HEADER_SIZE:]),
    )


_KINDS = frozenset(FrameKind)
_CODECS = frozenset(CodecId)
