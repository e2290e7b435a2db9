"""PCM helpers shared by the STT engines: streaming resampling to the engine rate, WAV files."""

from __future__ import annotations

import io
import wave

from voicewire.codecs.resample import StreamResampler, frames_to_pcm


class Resampler:
    """s16le mono bytes at `in_rate` → s16le mono bytes at `out_rate`, chunk by chunk.

    The filter state carries across chunks (see codecs.resample), so 20 ms pieces resample
    exactly like the whole; `flush` returns what the filter still holds at the end.
    """

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self._odd = b""
        self._inner = None if in_rate == out_rate else StreamResampler(in_rate, out_rate)

    def push(self, pcm: bytes) -> bytes:
        if self._inner is not None:
            return frames_to_pcm(self._inner.push(pcm))
        # Even unresampled, a sample split across two chunks must not reach the engine halved.
        data = self._odd + pcm
        cut = len(data) - len(data) % 2
        self._odd = data[cut:]
        return data[:cut]

    def flush(self) -> bytes:
        return b"" if self._inner is None else frames_to_pcm(self._inner.flush())


def wav_bytes(pcm: bytes, sample_rate: int) -> bytes:
    """A complete mono 16-bit WAV file holding `pcm`."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return out.getvalue()
