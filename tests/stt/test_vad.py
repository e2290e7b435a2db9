"""EndOfSpeech on Piper's question: WebRTC's VAD, Silero's and the energy fallback, which share
one API.

The question gets 1.5 s of trailing silence here rather than 0.5 s: "speech_ended" needs
`silence_ms` (700 by default) of quiet after the voice before it can fire.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pytest

from tests.stt.speech import RATE, level_edges_ms, pieces, silence
from voicewire.stt import vad as vad_module
from voicewire.stt.utterances import vad_backend
from voicewire.stt.vad import EndOfSpeech, VADEvent

Backend = Literal["webrtc", "energy", "silero"]
BACKENDS: list[Backend] = ["webrtc", "energy", "silero"]
TOLERANCE_MS = 100


@pytest.fixture(scope="module")
def question(question_16k: bytes) -> bytes:
    return question_16k + silence(1.0)


def noise(seconds: float, dbfs: float, seed: int = 7) -> bytes:
    sigma = 32768 * 10 ** (dbfs / 20)
    samples = np.random.default_rng(seed).normal(0, sigma, int(seconds * RATE))
    return samples.clip(-32768, 32767).astype("<i2").tobytes()


def feed_in(vad: EndOfSpeech, pcm: bytes, size: int = 640) -> list[VADEvent]:
    return [event for piece in pieces(pcm, size) for event in vad.feed(piece)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_speech_starts_200_ms_into_the_voice_and_ends_700_ms_after_it(
    backend: Backend, question: bytes
) -> None:
    onset, offset = level_edges_ms(question)
    started, ended = feed_in(EndOfSpeech(backend=backend), question)
    assert started.kind == "speech_started"
    assert abs(started.at_ms - (onset + 200)) <= TOLERANCE_MS
    assert abs(started.edge_ms - onset) <= TOLERANCE_MS
    assert ended.kind == "speech_ended"
    assert abs(ended.at_ms - (offset + 700)) <= TOLERANCE_MS
    assert abs(ended.edge_ms - offset) <= TOLERANCE_MS


def test_webrtc_is_the_backend_when_it_is_installed() -> None:
    assert EndOfSpeech().backend == "webrtc"


@pytest.mark.parametrize("backend", BACKENDS)
def test_how_the_audio_is_chunked_does_not_change_the_events(
    backend: Backend, question: bytes
) -> None:
    whole = EndOfSpeech(backend=backend).feed(question)
    dribbled = feed_in(EndOfSpeech(backend=backend), question, size=7)
    assert dribbled == whole


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dbfs", [-70.0, -55.0])
def test_silence_and_low_noise_give_no_events(backend: Backend, dbfs: float) -> None:
    vad = EndOfSpeech(backend=backend)
    assert vad.feed(silence(3.0)) == []
    assert vad.feed(noise(3.0, dbfs)) == []
    assert not vad.in_speech


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_100_ms_click_is_too_short_to_count_as_speech(backend: Backend, question: bytes) -> None:
    onset, _ = level_edges_ms(question)
    burst = question[onset * 32 : (onset + 100) * 32]  # 32 bytes per ms at 16 kHz
    vad = EndOfSpeech(backend=backend)
    assert vad.feed(silence(0.5) + burst + silence(1.0)) == []


def test_speech_can_start_again_after_it_ended(question: bytes) -> None:
    vad = EndOfSpeech()
    kinds = [event.kind for event in vad.feed(question + question)]
    assert kinds == ["speech_started", "speech_ended"] * 2


def test_reset_forgets_speech_in_progress(question: bytes) -> None:
    vad = EndOfSpeech()
    onset, _ = level_edges_ms(question)
    vad.feed(question[: (onset + 400) * 32])
    assert vad.in_speech
    vad.reset()
    assert not vad.in_speech
    assert vad.feed(silence(2.0)) == []


def test_speech_never_ends_on_a_voiced_frame_even_with_a_tiny_silence(question: bytes) -> None:
    # 20 ms is less than the WebRTC hangover the detector counts as silence.
    probe = EndOfSpeech()  # same frames in the same order: the same (stateful) verdicts
    voiced = [probe.is_voiced(frame) for frame in pieces(question, 640) if len(frame) == 640]
    ends = [e for e in EndOfSpeech(silence_ms=20).feed(question) if e.kind == "speech_ended"]
    assert ends
    for event in ends:
        assert not voiced[event.at_ms // 20 - 1]


def test_a_shorter_silence_ends_speech_sooner(question: bytes) -> None:
    _, offset = level_edges_ms(question)
    ended = EndOfSpeech(silence_ms=300).feed(question)[-1]
    assert abs(ended.at_ms - (offset + 300)) <= TOLERANCE_MS


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"frame_ms": 25}, "frame_ms"),
        ({"aggressiveness": 4}, "aggressiveness"),
        ({"sample_rate": 44100}, "webrtcvad needs a rate"),
    ],
)
def test_bad_settings_are_rejected_up_front(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EndOfSpeech(**kwargs)


def test_without_webrtcvad_the_energy_backend_stands_in(
    monkeypatch: pytest.MonkeyPatch, question: bytes
) -> None:
    monkeypatch.setattr(vad_module, "_webrtcvad", None)
    assert EndOfSpeech().backend == "energy"
    assert [e.kind for e in EndOfSpeech().feed(question)] == ["speech_started", "speech_ended"]
    with pytest.raises(ValueError, match="pip install webrtcvad-wheels"):
        EndOfSpeech(backend="webrtc")


def test_the_energy_backend_takes_any_rate() -> None:
    vad = EndOfSpeech(44100, backend="energy")
    assert vad.feed(silence(1.0, 44100)) == []


def cough(seconds: float = 0.3, seed: int = 3) -> bytes:
    """A noise burst with a fast attack and a quick decay, loud: what a cough looks like to a
    VAD that compares band energies (WebRTC's takes it for voice)."""
    n = int(seconds * RATE)
    burst = np.random.default_rng(seed).normal(0, 1, n) * np.exp(-np.arange(n) / (0.08 * RATE))
    return (0.5 * 32767 * np.clip(burst, -2, 2) / 2).astype("<i2").tobytes()


def test_silero_takes_a_cough_for_no_speech_where_webrtc_does(question: bytes) -> None:
    audio = silence(0.5) + cough() + silence(1.0)
    assert EndOfSpeech(backend="silero").feed(audio) == []
    assert [e.kind for e in EndOfSpeech(backend="webrtc").feed(audio)][:1] == ["speech_started"]


def test_voice_input_listens_with_silero_at_16_khz_and_webrtc_at_its_other_rates() -> None:
    assert vad_backend(16000) == "silero"
    assert vad_backend(48000) == "auto"  # webrtc
    assert vad_backend(24000) == "energy"


def test_the_silero_backend_takes_16_khz_only() -> None:
    with pytest.raises(ValueError, match="16000"):
        EndOfSpeech(48000, backend="silero")
