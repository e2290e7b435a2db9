"""Streaming sample-rate conversion of s16le mono PCM with PyAV (libswresample).

One resampler per segment: the filter keeps its state across chunks, so chunk boundaries leave
no clicks, and `flush` returns the samples still inside the filter at the segment's end.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np


class StreamResampler:
    """s16le mono bytes at `in_rate` → `av.AudioFrame`s (mono, `fmt`) at `out_rate`."""

    def __init__(self, in_rate: int, out_rate: int, fmt: str = "s16") -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.fmt = fmt
        self.samples_in = 0
        self.samples_out = 0
        self._odd = b""  # a byte left over from an odd-length chunk (half a sample)
        self._time_base = Fraction(1, in_rate)
        same = in_rate == out_rate and fmt == "s16"
        self._resampler = None if same else av.AudioResampler(fmt, "mono", out_rate)

    def push(self, pcm: bytes) -> list[av.AudioFrame]:
        data = self._odd + pcm
        cut = len(data) - len(data) % 2
        self._odd = data[cut:]
        if cut == 0:
            return []
        samples = np.frombuffer(data[:cut], dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = self.in_rate
        frame.pts = self.samples_in
        frame.time_base = self._time_base
        self.samples_in += samples.shape[1]
        out = [frame] if self._resampler is None else list(self._resampler.resample(frame))
        return self._count(out)

    def flush(self) -> list[av.AudioFrame]:
        # Resampling nothing at all has nothing to flush (and PyAV needs a frame first).
        if self._resampler is None or self.samples_in == 0:
            return []
        return self._count(list(self._resampler.resample(None)))

    def _count(self, frames: list[av.AudioFrame]) -> list[av.AudioFrame]:
        self.samples_out += sum(f.samples for f in frames)
        return frames


def frames_to_pcm(frames: list[av.AudioFrame]) -> bytes:
    """Packed s16 mono frames → s16le bytes."""
    return b"".join(f.to_ndarray().astype("<i2", copy=False).tobytes() for f in frames)
