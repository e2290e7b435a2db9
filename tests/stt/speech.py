"""Helpers for the STT tests: silence, chunking, resampling, speech edges, transcribing."""

from __future__ import annotations

import numpy as np

from voicewire.bench.stt import spoken_question
from voicewire.codecs.resample import StreamResampler, frames_to_pcm
from voicewire.stt import STT, Transcript

RATE = 16000
CHUNK = 640  # 20 ms at 16 kHz, as a microphone would send it


def resample(pcm: bytes, in_rate: int, out_rate: int) -> bytes:
    resampler = StreamResampler(in_rate, out_rate)
    return frames_to_pcm(resampler.push(pcm) + resampler.flush())


def silence(seconds: float, rate: int = RATE) -> bytes:
    return bytes(2 * int(seconds * rate))


def pieces(pcm: bytes, size: int) -> list[bytes]:
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def level_edges_ms(pcm: bytes, rate: int = RATE, dbfs: float = -50.0) -> tuple[int, int]:
    """Where sound louder than `dbfs` begins and ends, in 10 ms steps: the speech's true edges."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    step = rate // 100
    frames = samples[: len(samples) // step * step].reshape(-1, step)
    loud = np.sqrt(np.mean(frames**2, axis=1)) > 32768 * 10 ** (dbfs / 20)
    first = int(np.argmax(loud))
    last = len(loud) - int(np.argmax(loud[::-1]))
    return first * 10, last * 10


async def transcribe(
    stt: STT, pcm: bytes, rate: int = RATE, size: int = CHUNK
) -> tuple[list[str], Transcript]:
    stream = stt.stream(sample_rate=rate)
    partials = []
    for piece in pieces(pcm, size):
        partial = await stream.feed(piece)
        if partial is not None:
            assert not partial.final
            partials.append(partial.text)
    return partials, await stream.finish()


def assert_heard_the_question(final: Transcript) -> None:
    assert final.final
    assert "weather" in final.text.lower()
    assert "paris" in final.text.lower()


def piper_question() -> tuple[bytes, int]:
    """The question as Piper's joe voice speaks it (without noise: the same audio every run)."""
    return spoken_question()
