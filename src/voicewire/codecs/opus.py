"""Opus (libopus via PyAV): 48 kHz mono, 20 ms packets, ~24 kbps VBR tuned for speech.

Payload framing (see docs/codecs.md): a sequence of records `[u16 LE length][bytes]`. The first
record of a segment's first non-empty payload is the 19-byte OpusHead (RFC 7845 §5.1) that
carries the pre-skip; every other record is one Opus packet. Each segment is a new Opus stream.

Decoding a segment yields `pre_skip` priming samples, then the speech, then the padding of the
last packet; `samples` counts the speech only, so a decoder drops the first `pre_skip` samples
and keeps `segment.end.samples`.
"""

from __future__ import annotations

import struct
from fractions import Fraction
from typing import Any

import av
from av.packet import Packet

from voicewire.codecs.resample import StreamResampler
from voicewire.protocol.messages import Codec

OPUS_RATE = 48_000
OPUS_BITRATE = 24_000
PACKET_MS = 20
OPUS_HEAD_MAGIC = b"OpusHead"


def records(payload: bytes) -> list[bytes]:
    """Split a payload into its `[u16 LE length][bytes]` records."""
    out, pos = [], 0
    while pos + 2 <= len(payload):
        (n,) = struct.unpack_from("<H", payload, pos)
        out.append(payload[pos + 2 : pos + 2 + n])
        pos += 2 + n
    if pos != len(payload):
        raise ValueError("truncated opus record")
    return out


def pre_skip(head: bytes) -> int:
    """The pre-skip (priming samples at 48 kHz) of an OpusHead record."""
    if not head.startswith(OPUS_HEAD_MAGIC) or len(head) < 19:
        raise ValueError("not an OpusHead")
    value: int = struct.unpack_from("<H", head, 10)[0]
    return value


class OpusEncoder:
    codec: Codec = "opus"

    def __init__(self, in_rate: int, *, bitrate: int = OPUS_BITRATE) -> None:
        self.sample_rate = OPUS_RATE
        self.samples = 0
        self._resampler = StreamResampler(in_rate, OPUS_RATE)
        ctx = av.CodecContext.create("libopus", "w")
        ctx.sample_rate = OPUS_RATE
        ctx.layout = "mono"
        ctx.format = "s16"
        ctx.bit_rate = bitrate
        ctx.time_base = Fraction(1, OPUS_RATE)
        # voip: the speech-tuned mode; PyAV cuts the input into 960-sample frames for us.
        ctx.options = {"application": "voip", "frame_duration": str(PACKET_MS), "vbr": "on"}
        ctx.open()
        self._ctx = ctx
        if not ctx.extradata:
            raise RuntimeError("libopus gave no OpusHead")
        self.head = bytes(ctx.extradata)  # OpusHead, as libopus fills it in at open
        self._head_sent = False
        self._flushed = False

    def encode(self, pcm: bytes) -> bytes:
        if self._flushed:
            return b""
        packets = [p for f in self._resampler.push(pcm) for p in self._ctx.encode(f)]
        return self._payload(packets)

    def flush(self) -> bytes:
        if self._flushed:
            return b""
        self._flushed = True
        if self._resampler.samples_in == 0:
            return b""  # no audio: no stream at all, not even a head
        packets = [p for f in self._resampler.flush() for p in self._ctx.encode(f)]
        packets += self._ctx.encode(None)
        return self._payload(packets)

    def _payload(self, packets: list[Packet[Any]]) -> bytes:
        if not packets:
            return b""
        parts = []
        if not self._head_sent:
            self._head_sent = True
            parts.append(struct.pack("<H", len(self.head)) + self.head)
        for p in packets:
            data = bytes(p)
            parts.append(struct.pack("<H", len(data)) + data)
        # Packet timestamps count from the first speech sample (the priming one is at
        # -pre_skip), so the last packet's end is the speech carried so far; libopus gives the
        # final packet the duration that ends exactly at the input's end.
        last = packets[-1]
        if last.pts is None or last.duration is None:
            raise RuntimeError("libopus gave a packet without a timestamp")
        self.samples = max(self.samples, last.pts + last.duration)
        return b"".join(parts)
