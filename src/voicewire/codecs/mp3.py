"""MP3 (libmp3lame via PyAV): mono at an MPEG rate (the TTS's own when it is one), CBR.

Each segment is one complete MP3 file: a LAME "Info" frame that records the encoder delay and
the end padding, then the audio frames. With the tag, browsers and FFmpeg decode exactly the
segment's samples (for any segment longer than 2 ms), so segments play gaplessly.

The tag can only be written once the segment's length is known, so the encoder compresses as
the PCM arrives but hands the file out at `flush`: a client decodes a segment as a whole
(`decodeAudioData`) anyway, and the segment's last frame is only sent when its synthesis is
finished, so holding the bytes back costs no playback latency.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import av
from av.packet import Packet

from voicewire.codecs.resample import StreamResampler
from voicewire.protocol.messages import Codec

MP3_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})


def mp3_bitrate(rate: int) -> int:
    """Enough for clear speech: 48 kbps at 22.05/24 kHz, less below, more for MPEG-1 rates."""
    if rate < 22050:
        return 32_000
    return 48_000 if rate <= 24000 else 64_000


class Mp3Encoder:
    codec: Codec = "mp3"

    def __init__(self, in_rate: int, out_rate: int) -> None:
        if out_rate not in MP3_RATES:
            raise ValueError(f"MP3 cannot be encoded at {out_rate} Hz")
        self.sample_rate = out_rate
        self.samples = 0
        self._resampler = StreamResampler(in_rate, out_rate, fmt="s16p")
        self._buffer = io.BytesIO()
        self._container: av.container.OutputContainer | None = None
        self._stream: av.audio.stream.AudioStream | None = None
        self._done = False

    def encode(self, pcm: bytes) -> bytes:
        if not self._done:
            self._mux(self._resampler.push(pcm))
        return b""

    def flush(self) -> bytes:
        if self._done:
            return b""
        self._done = True
        tail = self._encode(self._resampler.flush())
        if self._container is None:
            return b""  # no audio at all
        assert self._stream is not None
        tail += self._stream.encode(None)
        _carry_padding(tail)
        self._container.mux(tail)
        self._container.close()  # writes the trailer: the Info frame gets delay and padding
        self.samples = self._resampler.samples_out
        return self._buffer.getvalue()

    def _mux(self, frames: list[av.AudioFrame]) -> None:
        packets = self._encode(frames)
        if packets:
            assert self._container is not None
            self._container.mux(packets)

    def _encode(self, frames: list[av.AudioFrame]) -> list[Packet[Any]]:
        frames = [f for f in frames if f.samples]
        if not frames:
            return []
        if self._container is None:
            # Opened on the first audio: a segment without speech leaves no container behind.
            # No ID3 tags: the payload is MP3 frames only.
            self._container = av.open(
                self._buffer, "w", format="mp3", options={"id3v2_version": "0", "write_id3v1": "0"}
            )
            self._stream = self._container.add_stream("libmp3lame", rate=self.sample_rate)
            self._stream.layout = "mono"
            self._stream.bit_rate = mp3_bitrate(self.sample_rate)
        stream = self._stream
        assert stream is not None
        return [packet for frame in frames for packet in stream.encode(frame)]


def _carry_padding(packets: list[Packet[Any]]) -> None:
    """Put the end padding of all of `packets` on the last one.

    libmp3lame marks the padding packet by packet (`skip_samples` side data), but FFmpeg's mp3
    muxer writes only the last packet's into the LAME tag; when LAME's flush spreads it over
    two packets, the tag would claim up to 46 samples too few, and decoders would play them.
    """
    if not packets or not packets[-1].has_sidedata("skip_samples"):
        return
    total = sum(_end_discard(p) for p in packets)
    side = packets[-1].get_sidedata("skip_samples")
    struct.pack_into("<I", memoryview(side), 4, total)
    packets[-1].set_sidedata(side)


def _end_discard(packet: Packet[Any]) -> int:
    if not packet.has_sidedata("skip_samples"):
        return 0
    value: int = struct.unpack_from("<I", bytes(packet.get_sidedata("skip_samples")), 4)[0]
    return value
