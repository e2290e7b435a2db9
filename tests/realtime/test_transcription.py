"""`/v1/realtime` input transcription as OpenAI's service sends it: interim transcripts as
`conversation.item.input_audio_transcription.delta`, the final one as `.completed`, and the
speech events' offsets into the input audio; each event checked against the openai SDK's own
pydantic model. A fake STT engine (for tests only) hears a scripted run of interims."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from openai.types.realtime import (
    ConversationItemAdded,
    ConversationItemInputAudioTranscriptionCompletedEvent,
    ConversationItemInputAudioTranscriptionDeltaEvent,
    InputAudioBufferSpeechStartedEvent,
    InputAudioBufferSpeechStoppedEvent,
)

from tests.conftest import serve
from tests.realtime.test_input_audio import append, silence, tone
from tests.realtime.test_sdk import REPLY, until
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.server.app import create_app
from voicewire.server.realtime_input import interim_delta
from voicewire.stt import Transcript
from voicewire.tts.fake import FakeToneTTS

RATE = 24000
INTERIMS = [
    "hello",
    "hello there",
    "hello there how",
    "hello there how are",
    "hello there, how are",
]
FINAL = "hello there how are you"


class ScriptedStream:
    """Hears one more interim of INTERIMS at each fed chunk (the last one then stays)."""

    def __init__(self) -> None:
        self.fed = 0

    async def feed(self, pcm: bytes) -> Transcript | None:
        self.fed += 1
        return Transcript(INTERIMS[min(self.fed, len(INTERIMS)) - 1], final=False)

    async def finish(self) -> Transcript:
        return Transcript(FINAL, final=True)

    async def aclose(self) -> None:
        pass


class ScriptedSTT:
    """A fake STT engine for tests: every utterance is heard as INTERIMS, then FINAL."""

    name = "scripted"
    sample_rate = 16000

    def stream(self, *, sample_rate: int) -> ScriptedStream:
        return ScriptedStream()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(
        llm="scripted",
        tts="fake",
        data_dir=tmp_path_factory.mktemp("data"),
        stt_audio_burst_s=60.0,  # recorded audio is sent as fast as the socket takes it
    )
    llm = ScriptedLLM(REPLY, tokens_per_second=200, first_token_ms=5)
    with serve(create_app(settings, llm=llm, tts=FakeToneTTS(), stt=ScriptedSTT())) as url:
        yield url


def raw(event: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = event.to_dict()
    return dumped


async def push_to_talk(conn: AsyncRealtimeConnection) -> None:
    await conn.recv()
    await conn.session.update(
        session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    )
    await until(conn, "session.updated")


def test_an_interim_adds_its_words_but_the_last_while_they_extend_what_was_sent() -> None:
    assert interim_delta("", "hello") == ""
    assert interim_delta("", "hello there") == "hello "
    assert interim_delta("hello ", "hello there how are") == "there how "
    assert interim_delta("hello there how ", "hello there, how are you") == ""  # revised
    assert interim_delta("hello ", " ") == ""


async def test_interim_transcripts_are_sent_as_deltas_that_add_up_to_the_transcript(
    base: str,
) -> None:
    client = AsyncOpenAI(base_url=base + "/v1", api_key="guest")
    async with client.realtime.connect(model="voicewire") as conn:
        await push_to_talk(conn)
        await append(conn, silence(0.3))  # three chunks: three interims
        await conn.input_audio_buffer.commit()
        events = await until(conn, "conversation.item.done")
    deltas = [
        ConversationItemInputAudioTranscriptionDeltaEvent.model_validate(raw(e))
        for e in events
        if e.type == "conversation.item.input_audio_transcription.delta"
    ]
    (completed,) = [
        ConversationItemInputAudioTranscriptionCompletedEvent.model_validate(raw(e))
        for e in events
        if e.type == "conversation.item.input_audio_transcription.completed"
    ]
    assert [d.delta for d in deltas] == ["hello ", "there ", "how are you"]
    assert (
        "".join(d.delta or "" for d in deltas) == completed.transcript == "hello there how are you"
    )
    assert {d.item_id for d in deltas} == {completed.item_id}
    assert completed.content_index == 0
    assert completed.usage.type == "duration"
    assert completed.usage.seconds == pytest.approx(0.3)


async def test_speech_events_say_where_the_voice_began_and_ended_in_the_sessions_audio(
    base: str,
) -> None:
    silence_ms = Settings().stt_silence_ms
    client = AsyncOpenAI(base_url=base + "/v1", api_key="guest")
    async with client.realtime.connect(model="voicewire") as conn:
        await conn.recv()
        vad = {"type": "server_vad", "create_response": False}
        await conn.session.update(
            session={"type": "realtime", "audio": {"input": {"turn_detection": vad}}}
        )
        await until(conn, "session.updated")
        found = []
        for _ in range(2):  # the second utterance's offsets count the first one's audio too
            await append(conn, silence(1.0) + tone(0.5) + silence(1.5))
            events = await until(conn, "conversation.item.done")
            started = [e for e in events if e.type == "input_audio_buffer.speech_started"]
            stopped = [e for e in events if e.type == "input_audio_buffer.speech_stopped"]
            found.append(
                (
                    InputAudioBufferSpeechStartedEvent.model_validate(raw(started[-1])),
                    InputAudioBufferSpeechStoppedEvent.model_validate(raw(stopped[-1])),
                    events[-1].item.id,
                )
            )
    for n, (started, stopped, item_id) in enumerate(found):
        session_ms = 3000 * n  # the audio appended before this utterance
        assert abs(started.audio_start_ms - (session_ms + 1000)) <= 40  # the tone's onset
        assert abs(stopped.audio_end_ms - (session_ms + 1500 + silence_ms)) <= 40
        assert started.item_id == stopped.item_id == item_id


async def test_an_input_audio_item_is_taken_with_its_transcript_and_refused_without_one(
    base: str,
) -> None:
    audio = base64.b64encode(silence(0.1)).decode()
    client = AsyncOpenAI(base_url=base + "/v1", api_key="guest")
    async with client.realtime.connect(model="voicewire") as conn:
        await conn.recv()
        content: dict[str, Any] = {"type": "input_audio", "audio": audio}
        item: Any = {"type": "message", "role": "user", "content": [content]}
        await conn.conversation.item.create(event_id="ev_bare", item=item)
        answer = await conn.recv()  # an error, not conversation.item.added
        assert answer.type == "error"
        content["transcript"] = "hello there"
        await conn.conversation.item.create(item=item)
        events = await until(conn, "conversation.item.done")
    assert (answer.error.code, answer.error.param, answer.error.event_id) == (
        "unsupported",
        "item.content",
        "ev_bare",
    )
    added = ConversationItemAdded.model_validate(raw(events[0]))
    assert added.previous_item_id is None  # the refused item was not added
    assert raw(events[-1])["item"]["content"] == [
        {"type": "input_audio", "transcript": "hello there"}  # the audio is not echoed
    ]
