"""Audio encoders: speech leaves the TTS as 16-bit PCM and is encoded per segment."""

from voicewire.codecs.base import Encoder, EncoderFactory
from voicewire.codecs.pcm16 import Pcm16Passthrough
from voicewire.protocol.messages import Codec

CODECS: frozenset[str] = frozenset({"pcm16"})
SAMPLE_RATES: frozenset[int] = frozenset()  # besides the TTS's own rate


def make_encoder(codec: Codec, in_rate: int, out_rate: int) -> Encoder:
    """An encoder for one segment: `codec` at `out_rate`, from s16le mono at `in_rate`."""
    if codec == "pcm16" and in_rate == out_rate:
        return Pcm16Passthrough(in_rate)
    raise ValueError(f"no encoder for {codec} at {out_rate} Hz from {in_rate} Hz")


__all__ = [
    "CODECS",
    "SAMPLE_RATES",
    "Encoder",
    "EncoderFactory",
    "Pcm16Passthrough",
    "make_encoder",
]
