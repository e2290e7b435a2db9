"""Audio encoders: speech leaves the TTS as 16-bit PCM and is encoded per segment.

pcm16 goes out at the TTS's rate or resampled to any rate in `SAMPLE_RATES`; opus always runs
at 48 kHz; mp3 at the requested rate when MPEG allows it (all of `SAMPLE_RATES` do).
"""

from voicewire.codecs.base import Encoder, EncoderFactory
from voicewire.codecs.mp3 import MP3_RATES, Mp3Encoder
from voicewire.codecs.opus import OPUS_RATE, OpusEncoder
from voicewire.codecs.pcm16 import Pcm16Passthrough, Pcm16Resampled
from voicewire.protocol.messages import Codec

CODECS: frozenset[str] = frozenset({"pcm16", "opus", "mp3"})
# Besides the TTS's own rate. Every one of them is also an MPEG rate, so mp3 can follow it.
SAMPLE_RATES: frozenset[int] = frozenset({8000, 16000, 22050, 24000, 44100, 48000})


def output_rate(codec: Codec, requested: int) -> int:
    """The rate `codec` is sent at when the session asks for `requested`."""
    if codec == "opus":
        return OPUS_RATE
    if codec == "mp3" and requested not in MP3_RATES:
        return 24000  # the closest MPEG rate to typical TTS rates (16–24 kHz)
    return requested


def make_encoder(codec: Codec, in_rate: int, out_rate: int) -> Encoder:
    """An encoder for one segment: `codec` at `output_rate(codec, out_rate)`, from s16le mono
    at `in_rate`."""
    rate = output_rate(codec, out_rate)
    if codec == "opus":
        return OpusEncoder(in_rate)
    if codec == "mp3":
        return Mp3Encoder(in_rate, rate)
    if codec == "pcm16":
        return Pcm16Passthrough(in_rate) if in_rate == rate else Pcm16Resampled(in_rate, rate)
    raise ValueError(f"no encoder for {codec} at {out_rate} Hz from {in_rate} Hz")


__all__ = [
    "CODECS",
    "SAMPLE_RATES",
    "Encoder",
    "EncoderFactory",
    "Mp3Encoder",
    "OpusEncoder",
    "Pcm16Passthrough",
    "Pcm16Resampled",
    "make_encoder",
    "output_rate",
]
