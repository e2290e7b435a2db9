"""pcm16: the TTS's bytes as they are, or resampled to the rate the session asked for."""

from __future__ import annotations

from voicewire.codecs.resample import StreamResampler, frames_to_pcm
from voicewire.protocol.messages import Codec


class Pcm16Passthrough:
    codec: Codec = "pcm16"

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.samples = 0

    def encode(self, pcm: bytes) -> bytes:
        self.samples += len(pcm) // 2
        return pcm

    def flush(self) -> bytes:
        return b""


class Pcm16Resampled:
    """pcm16 at `out_rate`. The filter lags a few dozen samples behind its input; `flush`
    returns them, so a segment's total is `in_samples * out_rate / in_rate` rounded (±1)."""

    codec: Codec = "pcm16"

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.sample_rate = out_rate
        self.samples = 0
        self._resampler = StreamResampler(in_rate, out_rate)

    def encode(self, pcm: bytes) -> bytes:
        return self._out(frames_to_pcm(self._resampler.push(pcm)))

    def flush(self) -> bytes:
        return self._out(frames_to_pcm(self._resampler.flush()))

    def _out(self, payload: bytes) -> bytes:
        self.samples += len(payload) // 2
        return payload
