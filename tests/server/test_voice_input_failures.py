"""`Microphone` when parts of speech input fail: the VAD model, the STT engine's build, a
connection closing while a stream opens, in-process against a fake STT engine
(tests/stt/fake.py). Whatever fails, the session goes on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator

import pytest

from tests.server.test_voice_input import microphone, settings, start
from tests.stt.fake import FakeClock, FakeStream, FakeSTT, Heard
from tests.stt.speech import CHUNK, RATE, pieces, piper_question, resample, silence
from tests.waiting import until
from voicewire.server import voice_input
from voicewire.server.voice_input import LazySTT, Microphone
from voicewire.stt import STTError, silero


@pytest.fixture(scope="module")
def question() -> bytes:
    pcm, rate = piper_question()
    return silence(0.3) + resample(pcm, rate, RATE) + silence(1.0)


async def speak(mic: Microphone, clock: FakeClock, audio: bytes) -> None:
    """`audio` in 20 ms frames, in real time on `clock`."""
    for piece in pieces(audio, CHUNK):
        clock.now += len(piece) / (2 * RATE)
        await mic.feed(piece)


@pytest.fixture
def broken_silero(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Silero installed but its model fails to load (a corrupt file, onnxruntime's own error)."""

    def fails() -> None:
        raise RuntimeError("[ONNXRuntimeError] : 7 : INVALID_PROTOBUF")

    monkeypatch.setattr(silero, "_broken", None, raising=False)  # restored after the test
    monkeypatch.setattr(silero, "_session", fails)
    yield


async def test_a_silero_model_that_fails_to_load_leaves_speech_input_on_webrtcs_vad(
    broken_silero: None, question: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    engine, heard, clock = FakeSTT(), Heard(), FakeClock()
    mic = microphone(LazySTT(settings(), engine), heard, clock)
    with caplog.at_level(logging.WARNING):
        await mic.start(start(end="vad"))
        await speak(mic, clock, question)
    assert heard.errors() == []
    assert [e[0] for e in heard.events if e[0] != "partial"] == ["speech", "final"]
    assert any("Silero" in r.getMessage() for r in caplog.records)


async def test_a_silero_model_that_fails_when_a_microphone_starts_leaves_it_on_webrtcs_vad(
    broken_silero: None, question: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(silero, "load", lambda: None)  # loaded fine; fails for each stream
    engine, heard, clock = FakeSTT(), Heard(), FakeClock()
    mic = microphone(LazySTT(settings(), engine), heard, clock)
    await mic.start(start(end="vad"))
    await speak(mic, clock, question)
    assert heard.errors() == []
    assert [e[0] for e in heard.events if e[0] != "partial"] == ["speech", "final"]


async def test_a_silero_model_that_fails_on_a_frame_leaves_the_microphone_on_webrtcs_vad(
    question: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(silero, "_broken", None)  # restored after the test
    engine, heard, clock = FakeSTT(), Heard(), FakeClock()
    mic = microphone(LazySTT(settings(), engine), heard, clock)
    await mic.start(start(end="vad"))

    def fails(self: silero.SileroFrames, frame: bytes) -> float:
        raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION")

    monkeypatch.setattr(silero.SileroFrames, "probability", fails)
    await speak(mic, clock, question)
    assert heard.errors() == []
    assert [e[0] for e in heard.events if e[0] != "partial"] == ["speech", "final"]


async def test_an_stt_engine_that_fails_to_build_is_tried_once_not_at_every_microphone_start(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    builds: list[str] = []

    def fails(settings: object) -> FakeSTT:
        builds.append("whisper")
        raise STTError("cannot load the Whisper model: unsupported model file")

    monkeypatch.setattr(voice_input, "build_stt", fails)
    stt = LazySTT(settings(stt="whisper"))
    heard = [Heard() for _ in range(3)]
    with caplog.at_level(logging.ERROR):
        for h in heard:
            mic = microphone(stt, h)
            await mic.start(start())
            await mic.start(start())  # a restart, too
    assert builds == ["whisper"]
    assert [h.errors() for h in heard] == [["stt_unavailable"] * 2] * 3
    assert len([r for r in caplog.records if "speech-to-text engine" in r.getMessage()]) == 1


class SlowToOpen(FakeSTT):
    """A fake engine whose streams take until `ready` is set to open (a decoder being made)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = threading.Event()
        self.ready = threading.Event()

    def stream(self, *, sample_rate: int) -> FakeStream:
        self.asked.set()
        self.ready.wait()
        return super().stream(sample_rate=sample_rate)


async def test_a_stream_opened_as_the_connection_closes_is_closed_not_leaked() -> None:
    engine, heard = SlowToOpen(), Heard()
    stt = LazySTT(settings(max_stt_streams=1), engine)
    mic = microphone(stt, heard)
    starting = asyncio.create_task(mic.start(start()))
    await until(engine.asked.is_set, "the stream to be opening")
    await mic.close()  # the connection ends meanwhile
    engine.ready.set()
    await starting
    assert len(engine.streams) == 1 and engine.streams[0].closed
    assert stt.slots.in_use == 0


async def test_a_stream_whose_opening_is_cancelled_is_closed_when_it_is_ready() -> None:
    engine, heard = SlowToOpen(), Heard()
    mic = microphone(LazySTT(settings(), engine), heard)
    starting = asyncio.create_task(mic.start(start()))
    await until(engine.asked.is_set, "the stream to be opening")
    starting.cancel()  # the connection's task is cancelled meanwhile
    with contextlib.suppress(asyncio.CancelledError):
        await starting
    engine.ready.set()
    await until(lambda: engine.streams and engine.streams[0].closed, "the stream to be closed")
