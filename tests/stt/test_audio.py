"""The resampler and WAV writer the engines share, and choosing an engine by name."""

from __future__ import annotations

import io
import sys
import wave

import numpy as np
import pytest

from tests.stt.speech import pieces
from voicewire.stt import STT_NAMES, STTError, build_stt
from voicewire.stt.audio import Resampler, wav_bytes
from voicewire.stt.openai_compat import OpenAISTT


def tone(seconds: float, rate: int) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()


@pytest.mark.parametrize(("in_rate", "out_rate"), [(48000, 16000), (8000, 16000), (44100, 16000)])
def test_resampling_in_20_ms_chunks_keeps_the_duration(in_rate: int, out_rate: int) -> None:
    resampler = Resampler(in_rate, out_rate)
    out = b"".join(resampler.push(p) for p in pieces(tone(1.0, in_rate), 2 * in_rate // 50))
    out += resampler.flush()
    assert abs(len(out) // 2 - out_rate) <= 1


def test_the_same_rate_passes_through_and_rejoins_split_samples() -> None:
    pcm = tone(0.1, 16000)
    resampler = Resampler(16000, 16000)
    out = [resampler.push(p) for p in pieces(pcm, 333)]
    assert all(len(p) % 2 == 0 for p in out)
    assert b"".join(out) + resampler.flush() == pcm


def test_a_wav_file_holds_the_pcm_at_its_rate() -> None:
    pcm = tone(0.25, 16000)
    with wave.open(io.BytesIO(wav_bytes(pcm, 16000))) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        assert wav.readframes(wav.getnframes()) == pcm


async def test_build_stt_makes_the_engine_it_is_named_after() -> None:
    stt = build_stt("openai", base_url="http://stt.test/v1")
    assert isinstance(stt, OpenAISTT)
    assert (stt.name, stt.sample_rate) == ("openai", 16000)
    await stt.aclose()
    assert STT_NAMES == ("whisper", "pocketsphinx", "openai")


def test_an_unknown_engine_is_an_stt_error_listing_the_choices() -> None:
    with pytest.raises(STTError, match="choose one of whisper, pocketsphinx, openai"):
        build_stt("whisper.cpp")


def test_a_missing_pocketsphinx_is_an_stt_error_with_an_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    monkeypatch.delitem(sys.modules, "voicewire.stt.pocketsphinx", raising=False)
    with pytest.raises(STTError, match="pip install pocketsphinx"):
        build_stt("pocketsphinx")
