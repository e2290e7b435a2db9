"""Helpers for the codec tests: test tones, and decoding wire payloads back with PyAV."""

from __future__ import annotations

import io
from collections.abc import Sequence

import av
import numpy as np

from voicewire.codecs.base import Encoder
from voicewire.codecs.opus import OPUS_RATE, pre_skip, records

RATE = 22050
FRAME_BYTES = RATE * 200 // 1000 * 2  # what turn.py hands an encoder at frame_ms=200


def tone(seconds: float, hz: float = 440.0, rate: int = RATE) -> bytes:
    t = np.arange(round(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2").tobytes()


def encode_like_turn(encoder: Encoder, pcm: bytes, frame_bytes: int = FRAME_BYTES) -> list[bytes]:
    """Feed `pcm` as turn.py does (full frames, then `encode(rest) + flush()`); the payloads
    of the frames it would send, empty ones dropped except the last."""
    out = []
    pos = 0
    while len(pcm) - pos > frame_bytes:
        payload = encoder.encode(pcm[pos : pos + frame_bytes])
        if payload:
            out.append(payload)
        pos += frame_bytes
    out.append(encoder.encode(pcm[pos:]) + encoder.flush())
    return out


def decode_opus(payloads: Sequence[bytes], samples: int | None = None) -> np.ndarray:
    """A segment's opus payloads → float samples at 48 kHz, as docs/codecs.md says a client
    decodes them: OpusHead first, pre-skip dropped, then cut to `samples` if given."""
    recs = [r for p in payloads for r in records(p)]
    if not recs:
        return np.zeros(0)
    skip = pre_skip(recs[0])
    ctx = av.CodecContext.create("opus", "r")
    ctx.sample_rate = OPUS_RATE
    ctx.layout = "mono"
    pieces = [f.to_ndarray().ravel() for r in recs[1:] for f in ctx.decode(av.Packet(r))]
    audio = np.concatenate(pieces).astype(np.float64)[skip:]
    return audio if samples is None else audio[:samples]


def decode_mp3(data: bytes) -> tuple[np.ndarray, int]:
    """A whole MP3 file → float samples and rate (FFmpeg applies the LAME delay/padding)."""
    with av.open(io.BytesIO(data), "r", format="mp3") as container:
        frames = list(container.decode(audio=0))
    rate = frames[0].sample_rate
    return np.concatenate([f.to_ndarray().ravel() for f in frames]).astype(np.float64), rate


def pcm_to_float(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio**2))) if audio.size else 0.0


def peak_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return float(np.argmax(spectrum) * rate / audio.size)
