"""The STT contract (stt/base.py), run against every engine: the fake one (for tests only),
PocketSphinx, Whisper, and the OpenAI-compatible client talking to a local stand-in server that
transcribes with PocketSphinx. Engines that really listen must also hear the Piper question."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from email import message_from_bytes
from email.message import Message

import httpx
import pytest

from tests.stt.fake import FakeSTT
from tests.stt.speech import RATE, assert_heard_the_question, resample, silence, transcribe
from voicewire.stt import STT, STTError, Transcript
from voicewire.stt.openai_compat import OpenAISTT
from voicewire.stt.pocketsphinx import PocketsphinxSTT
from voicewire.stt.whisper import WhisperSTT

HEARING = ("pocketsphinx", "whisper", "openai")


class StandInTranscriber:
    """An OpenAI-compatible /audio/transcriptions server, in process: it reads the uploaded WAV
    and transcribes it with a local engine."""

    def __init__(self, engine: STT) -> None:
        self.engine = engine

    async def handle(self, request: httpx.Request) -> httpx.Response:
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        parts = message_from_bytes(head + request.content).get_payload()
        assert isinstance(parts, list)
        for part in parts:
            assert isinstance(part, Message)
            if part.get_param("name", header="content-disposition") == "file":
                wav = part.get_payload(decode=True)
                assert isinstance(wav, bytes)
                with wave.open(io.BytesIO(wav)) as audio:
                    pcm, rate = audio.readframes(audio.getnframes()), audio.getframerate()
                _, final = await transcribe(self.engine, pcm, rate)
                return httpx.Response(200, json={"text": final.text})
        return httpx.Response(400, json={"error": {"message": "no file"}})


@pytest.fixture(params=["fake", *HEARING])
async def engine(
    request: pytest.FixtureRequest, stt: PocketsphinxSTT, whisper: WhisperSTT
) -> AsyncIterator[STT]:
    name = request.param
    if name == "openai":
        transport = httpx.MockTransport(StandInTranscriber(stt).handle)
        client = OpenAISTT("http://stt.test/v1", transport=transport)
        yield client
        await client.aclose()
    else:
        yield {"fake": FakeSTT(), "pocketsphinx": stt, "whisper": whisper}[name]


async def test_partials_are_not_final_and_the_one_final_transcript_is(
    engine: STT, question_16k: bytes
) -> None:
    partials, final = await transcribe(engine, question_16k)  # asserts partials are not final
    assert final.final
    assert all(isinstance(p, str) for p in partials)


async def test_a_finished_stream_takes_no_more_audio_and_no_second_finish(engine: STT) -> None:
    stream = engine.stream(sample_rate=RATE)
    await stream.feed(silence(0.1))
    await stream.finish()
    with pytest.raises(STTError):
        await stream.feed(silence(0.1))
    with pytest.raises(STTError):
        await stream.finish()
    await stream.aclose()
    await stream.aclose()


async def test_a_stream_may_be_dropped_mid_utterance_and_the_engine_goes_on(
    engine: STT, question_16k: bytes
) -> None:
    dropped = engine.stream(sample_rate=RATE)
    await dropped.feed(question_16k[: len(question_16k) // 2])
    await dropped.aclose()
    _, final = await transcribe(engine, question_16k)
    assert final.final


def test_a_rate_out_of_bounds_is_refused(engine: STT) -> None:
    if isinstance(engine, FakeSTT):
        pytest.skip("the fake engine takes any rate")
    with pytest.raises(STTError, match="sample rate"):
        engine.stream(sample_rate=4000)


@pytest.mark.parametrize("engine", HEARING, indirect=True)
async def test_the_piper_question_is_heard(engine: STT, question_16k: bytes) -> None:
    _, final = await transcribe(engine, question_16k)
    assert_heard_the_question(final)


@pytest.mark.parametrize("engine", HEARING, indirect=True)
async def test_48_khz_audio_in_odd_sized_chunks_is_heard(engine: STT, question_16k: bytes) -> None:
    _, final = await transcribe(engine, resample(question_16k, RATE, 48000), 48000, size=1001)
    assert_heard_the_question(final)


@pytest.mark.parametrize("engine", HEARING, indirect=True)
async def test_silence_and_no_audio_give_empty_final_transcripts(engine: STT) -> None:
    _, final = await transcribe(engine, silence(1.0))
    assert final == Transcript("", final=True)
    assert await engine.stream(sample_rate=RATE).finish() == Transcript("", final=True)
