"""`/v1/realtime` with the real `openai` SDK as the client (scripted LLM, fake tone TTS)."""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator, Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection

from tests.conftest import serve
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.llm.base import ChatMessage
from voicewire.llm.scripted import ScriptedLLM
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS

REPLY = (
    "Sure, I can help with that. The flat has two bedrooms and a balcony. "
    "It is close to the park, and the owner can show it on Saturday."
)
RATE = 24000


class RecordingLLM:
    """The scripted reply; remembers the context of every call (what a response saw)."""

    name = "recording"

    def __init__(self, inner: ScriptedLLM) -> None:
        self.inner = inner
        self.seen: list[list[ChatMessage]] = []

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        self.seen.append(list(messages))
        return self.inner.stream(messages)


@pytest.fixture(scope="module")
def llm() -> RecordingLLM:
    return RecordingLLM(ScriptedLLM(REPLY, tokens_per_second=40, first_token_ms=5))


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, llm: RecordingLLM) -> Iterator[str]:
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path_factory.mktemp("data"))
    with serve(create_app(settings, llm=llm, tts=FakeToneTTS())) as url:
        yield url


def client(base: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=base + "/v1", api_key="guest")


async def until(conn: AsyncRealtimeConnection, kind: str) -> list[Any]:
    """Events up to and including the first of type `kind`."""
    events = []
    async for event in conn:
        events.append(event)
        if event.type == kind:
            return events
    raise AssertionError(f"the connection closed before {kind}")


async def ask(conn: AsyncRealtimeConnection, text: str) -> None:
    await conn.conversation.item.create(
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    )
    await conn.response.create()


def audio_of(events: list[Any]) -> np.ndarray:
    pcm = b"".join(
        base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta"
    )
    return np.frombuffer(pcm, dtype="<i2")


async def test_a_text_turn_is_answered_with_24_khz_speech_and_its_transcript(base: str) -> None:
    async with client(base).realtime.connect(model="voicewire") as conn:
        created = await conn.recv()
        assert created.type == "session.created"
        await ask(conn, "Tell me about the flat")
        events = await until(conn, "response.done")
    types = [e.type for e in events]
    assert types[:2] == ["conversation.item.added", "conversation.item.done"]  # the question
    assert "response.created" in types and types[-1] == "response.done"
    done = events[-1].response
    assert done.status == "completed"
    transcript = "".join(
        e.delta for e in events if e.type == "response.output_audio_transcript.delta"
    )
    assert transcript == REPLY
    (final,) = [e for e in events if e.type == "response.output_audio_transcript.done"]
    assert final.transcript == REPLY
    assert done.output[0].content[0].transcript == REPLY
    # The same reply over /ws: its segments' durations are what the 24 kHz audio must last.
    async with Client(base.replace("http", "ws") + "/ws") as c:
        result = await c.ask("Tell me about the flat")
    seconds = sum(end.duration_ms for _, end, _ in result.segments if end is not None) / 1000
    samples = audio_of(events)
    assert abs(len(samples) - seconds * RATE) <= 0.05 * seconds * RATE
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 1000  # a tone, not silence


async def test_cancel_and_truncate_keep_only_what_was_heard(base: str, llm: RecordingLLM) -> None:
    async with client(base).realtime.connect(model="voicewire") as conn:
        await conn.recv()
        await ask(conn, "Tell me about the flat")
        events: list[Any] = []
        async for event in conn:
            events.append(event)
            if len(audio_of(events)) >= RATE:  # a second of speech received
                break
        item_id = next(e.item_id for e in events if e.type == "response.output_audio.delta")
        await conn.response.cancel()
        events += await until(conn, "response.done")
        done = events[-1].response
        assert done.status == "cancelled"
        assert done.status_details.reason == "client_cancelled"
        sent_ms = len(audio_of(events)) * 1000 // RATE

        await conn.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=700)
        (truncated,) = [e for e in await until(conn, "conversation.item.truncated")]
        assert truncated.audio_end_ms == 700
        await conn.conversation.item.retrieve(item_id=item_id)
        retrieved = (await until(conn, "conversation.item.retrieved"))[-1].item
        heard = retrieved.content[0].transcript
        # The fake voice: "Sure," [0, 300) ms, "I" [340, 400), "can" [440, 620), "help"
        # [660, 900): by 700 ms, "help" had begun; nothing after it.
        assert heard == "Sure, I can help"
        assert retrieved.status == "incomplete"

        # Past the audio sent: an error, and the session goes on.
        past = sent_ms + 1000
        await conn.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=past)
        failed = (await until(conn, "error"))[-1]
        assert failed.error.param == "audio_end_ms"

        await ask(conn, "And the price?")
        await until(conn, "response.done")
    context = llm.seen[-1]
    assert [m.content for m in context[-2:]] == ["Sure, I can help", "And the price?"]


async def test_a_session_updated_to_text_answers_in_text_only(base: str) -> None:
    async with client(base).realtime.connect(model="voicewire") as conn:
        await conn.recv()
        await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        updated = (await until(conn, "session.updated"))[-1]
        assert updated.session.output_modalities == ["text"]
        await ask(conn, "Tell me about the flat")
        events = await until(conn, "response.done")
    types = {e.type for e in events}
    assert "response.output_audio.delta" not in types
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == REPLY
    assert events[-1].response.output[0].content[0].text == REPLY


async def test_unknown_events_and_bad_payloads_are_errors_and_the_session_goes_on(
    base: str,
) -> None:
    async with client(base).realtime.connect(model="voicewire") as conn:
        await conn.recv()
        await conn.send({"type": "no.such.event", "event_id": "ev_1"})  # type: ignore[arg-type, misc]
        unknown = (await until(conn, "error"))[-1].error
        assert (unknown.code, unknown.event_id) == ("unknown_event", "ev_1")
        bad = {"type": "conversation.item.truncate", "event_id": "ev_2", "item_id": "x"}
        await conn.send(bad)  # type: ignore[arg-type]
        invalid = (await until(conn, "error"))[-1].error
        assert (invalid.code, invalid.event_id) == ("invalid_value", "ev_2")
        await conn.conversation.item.retrieve(item_id="nope", event_id="ev_3")
        missing = (await until(conn, "error"))[-1].error
        assert (missing.code, missing.event_id) == ("item_not_found", "ev_3")
        await conn.response.cancel(event_id="ev_4")
        idle = (await until(conn, "error"))[-1].error
        assert idle.code == "response_cancel_not_active"
        await ask(conn, "Tell me about the flat")
        events = await until(conn, "response.done")
    assert events[-1].response.status == "completed"


async def test_session_update_takes_this_servers_voices_and_openais_names(base: str) -> None:
    async with client(base).realtime.connect(model="voicewire") as conn:
        await conn.recv()
        for voice in ("fake-tone", "alloy"):
            audio = {"output": {"voice": voice, "speed": 1.2}}
            await conn.session.update(session={"type": "realtime", "audio": audio})
            updated = (await until(conn, "session.updated"))[-1].session
            assert updated.audio.output.voice == "fake-tone"  # alloy: the default voice
            assert updated.audio.output.speed == 1.2
        audio = {"output": {"voice": "nobody"}}
        await conn.session.update(session={"type": "realtime", "audio": audio}, event_id="ev_v")
        refused = (await until(conn, "error"))[-1].error
        assert (refused.param, refused.event_id) == ("session.audio.output.voice", "ev_v")
        await ask(conn, "Tell me about the flat")
        events = await until(conn, "response.done")
    assert events[-1].response.status == "completed"
    assert len(audio_of(events)) > 0
