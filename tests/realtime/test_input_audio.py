"""`/v1/realtime` input audio through the openai SDK: `input_audio_buffer.append` / `commit`,
and server-VAD barge-in, against a fake STT engine (it hears "hello world")."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import numpy as np
import pytest
from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection

from tests.conftest import serve
from tests.realtime.test_sdk import REPLY, RecordingLLM, ask, audio_of, until
from tests.stt.fake import FakeSTT
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS

RATE = 24000


@pytest.fixture(scope="module")
def llm() -> RecordingLLM:
    return RecordingLLM(ScriptedLLM(REPLY, tokens_per_second=40, first_token_ms=5))


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, llm: RecordingLLM) -> Iterator[str]:
    settings = Settings(
        llm="scripted",
        tts="fake",
        data_dir=tmp_path_factory.mktemp("data"),
        stt_audio_burst_s=60.0,  # recorded audio is sent as fast as the socket takes it
    )
    app = create_app(settings, llm=llm, tts=FakeToneTTS(), stt=FakeSTT())
    with serve(app) as url:
        yield url


def tone(seconds: float) -> bytes:
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.3 * np.sin(2 * np.pi * 300 * t) * 32767).astype("<i2").tobytes()


def silence(seconds: float) -> bytes:
    return bytes(2 * int(RATE * seconds))


async def append(conn: AsyncRealtimeConnection, pcm: bytes) -> None:
    step = RATE // 10 * 2  # 100 ms per event
    for i in range(0, len(pcm), step):
        await conn.input_audio_buffer.append(audio=base64.b64encode(pcm[i : i + step]).decode())


async def test_committed_audio_is_transcribed_and_answered(base: str, llm: RecordingLLM) -> None:
    client = AsyncOpenAI(base_url=base + "/v1", api_key="guest")
    async with client.realtime.connect(model="voicewire") as conn:
        await conn.recv()
        await conn.session.update(
            session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
        )
        updated = (await until(conn, "session.updated"))[-1]
        assert updated.session.audio.input.turn_detection is None
        await append(conn, silence(0.3))
        await conn.input_audio_buffer.commit()
        events = await until(conn, "conversation.item.done")
        types = [e.type for e in events]
        assert types == [
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.input_audio_transcription.completed",
            "conversation.item.done",
        ]
        assert events[2].transcript == "hello world"
        assert events[-1].item.content[0].transcript == "hello world"
        await conn.response.create()
        done = (await until(conn, "response.done"))[-1]
        assert done.response.status == "completed"
        await conn.input_audio_buffer.commit(event_id="ev_empty")
        empty = (await until(conn, "error"))[-1].error
        assert (empty.code, empty.event_id) == ("input_audio_buffer_commit_empty", "ev_empty")
    assert llm.seen[-1][-1].content == "hello world"


async def test_speech_over_a_reply_cancels_it_and_the_utterance_is_answered(base: str) -> None:
    client = AsyncOpenAI(base_url=base + "/v1", api_key="guest")
    async with client.realtime.connect(model="voicewire") as conn:
        await conn.recv()  # server_vad by default, as OpenAI's service
        await ask(conn, "Tell me about the flat")
        events = []
        async for event in conn:
            events.append(event)
            if len(audio_of(events)) >= RATE // 2:
                break
        await append(conn, tone(0.5))
        events = await until(conn, "input_audio_buffer.speech_started")
        events += await until(conn, "response.done")
        cancelled = events[-1].response
        assert cancelled.status == "cancelled"
        assert cancelled.status_details.reason == "turn_detected"
        await append(conn, silence(1.5))
        events = await until(conn, "response.done")
    types = [e.type for e in events]
    assert types.index("input_audio_buffer.speech_stopped") < types.index(
        "input_audio_buffer.committed"
    )
    (transcribed,) = [
        e for e in events if e.type == "conversation.item.input_audio_transcription.completed"
    ]
    assert transcribed.transcript == "hello world"
    assert events[-1].response.status == "completed"  # answered without a response.create
    assert len(audio_of(events)) > 0
