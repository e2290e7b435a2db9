"""`/v1/realtime` input audio with the real STT engine: Piper asks a question, pocketsphinx
transcribes it, server VAD commits it and the reply is spoken."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from openai import AsyncOpenAI

from tests.conftest import serve
from tests.realtime.test_sdk import audio_of, until
from tests.stt.speech import piper_question, resample
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS

RATE = 24000
REPLY = "Tomorrow in Paris it will be sunny, with a high of twenty degrees."


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(
        llm="scripted",
        tts="fake",
        stt="pocketsphinx",
        data_dir=tmp_path_factory.mktemp("data"),
        stt_audio_burst_s=60.0,  # recorded speech is sent as fast as the socket takes it
    )
    llm = ScriptedLLM(REPLY, tokens_per_second=40, first_token_ms=5)
    with serve(create_app(settings, llm=llm, tts=FakeToneTTS())) as url:
        yield url


@pytest.fixture(scope="module")
def question() -> bytes:
    """Piper asking about the weather in Paris, at 24 kHz: 0.5 s of silence, speech, 1 s."""
    pcm, rate = piper_question()
    return bytes(RATE) + resample(pcm, rate, RATE) + bytes(2 * RATE)


async def test_a_spoken_question_is_committed_by_server_vad_and_answered(
    base: str, question: bytes
) -> None:
    client = AsyncOpenAI(base_url=base + "/v1", api_key="guest")
    async with client.realtime.connect(model="voicewire") as conn:
        await conn.recv()
        step = RATE // 50 * 2  # 20 ms per event, as a microphone sends
        for i in range(0, len(question), step):
            chunk = base64.b64encode(question[i : i + step]).decode()
            await conn.input_audio_buffer.append(audio=chunk)
        events = await until(conn, "response.done")
    types = [e.type for e in events]
    assert types.index("input_audio_buffer.speech_started") < types.index(
        "input_audio_buffer.committed"
    )
    (heard,) = [
        e for e in events if e.type == "conversation.item.input_audio_transcription.completed"
    ]
    assert "weather" in heard.transcript.lower() and "paris" in heard.transcript.lower()
    assert events[-1].response.status == "completed"
    assert events[-1].response.output[0].content[0].transcript == REPLY
    assert len(audio_of(events)) > 0
