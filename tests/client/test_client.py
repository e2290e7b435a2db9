"""The Python client: WAV assembly, and reconnecting to the same conversation after a drop."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import serve
from voicewire.client import Client, Event, TurnResult
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.frames import AudioFrame, CodecId, FrameFlags, FrameKind
from voicewire.protocol.messages import SegmentStart, TurnEnd
from voicewire.responder import DataItem, TurnContext
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS


def _frame(segment_id: int, payload: bytes) -> AudioFrame:
    return AudioFrame(
        FrameKind.SPEECH, FrameFlags.NONE, CodecId.PCM16, 1, 1, segment_id, 0, payload
    )


def _turn(sample_rate: int, codec: str = "pcm16") -> TurnResult:
    """Two segments whose frames arrive in order: 3 samples, then 2."""
    events: list[Event] = [
        SegmentStart(turn_id=1, segment_id=0, text="a", speech="a", char_start=0, char_end=1),
        _frame(0, b"\x01\x00\x02\x00"),
        _frame(0, b"\x03\x00"),
        SegmentStart(turn_id=1, segment_id=1, text=" b", speech="b", char_start=1, char_end=3),
        _frame(1, b"\xff\xff\xfe\xff"),
        TurnEnd(turn_id=1, status="complete", text="a b"),
    ]
    return TurnResult(1, [(0.0, e) for e in events], sample_rate=sample_rate, codec=codec)


def test_wav_bytes_hold_the_turns_audio_in_order_at_the_session_rate() -> None:
    with wave.open(io.BytesIO(_turn(16000).to_wav_bytes())) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
        assert w.readframes(w.getnframes()) == b"\x01\x00\x02\x00\x03\x00\xff\xff\xfe\xff"


def test_wav_writes_the_file_it_is_given(tmp_path: Path) -> None:
    path = _turn(22050).wav(tmp_path / "turn.wav")
    with wave.open(str(path)) as w:
        assert w.getnframes() == 5


def test_wav_refuses_audio_that_is_not_pcm16() -> None:
    with pytest.raises(ValueError, match="pcm16"):
        _turn(48000, codec="opus").to_wav_bytes()


async def count_messages(ctx: TurnContext) -> AsyncGenerator[str | DataItem, None]:
    """Says how many user messages the server remembers in this conversation."""
    said = sum(1 for m in ctx.history if m.role == "user")
    yield f"You have sent {said} messages in this conversation. "


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path_factory.mktemp("data"))
    app = create_app(settings, llm=ScriptedLLM(), tts=FakeToneTTS(), responder=count_messages)
    with serve(app) as base:
        yield base.replace("http", "ws") + "/ws"


async def test_a_turn_collects_its_audio_into_a_wav_of_the_segments_duration(url: str) -> None:
    async with Client(url) as c:
        result = await c.ask("hello")
    with wave.open(io.BytesIO(result.to_wav_bytes())) as w:
        assert w.getframerate() == FakeToneTTS().sample_rate
        frames = w.getnframes()
    assert frames > 0
    assert frames == sum(end.samples for _, end, _ in result.segments if end is not None)


async def test_reconnect_after_a_drop_resumes_the_same_conversation(url: str) -> None:
    async with Client(url, reconnect=True) as c:
        first = await c.ask("one")
        conversation, token = c.conversation_id, c.token
        assert conversation and token
        c.ws.transport.abort()  # the network drops between turns
        await c.ws.wait_closed()
        second = await c.ask("two")
        assert c.reconnects == 1
        assert c.conversation_id == conversation
        assert c.token == token
    assert "sent 1 messages" in first.text
    assert "sent 2 messages" in second.text, "the server lost the conversation's history"


async def test_reconnect_replays_the_session_settings(url: str) -> None:
    async with Client(url, reconnect=True) as c:
        await c.send_json({"type": "session.update", "voice": False})
        c.ws.transport.abort()
        await c.ws.wait_closed()
        result = await c.ask("hello")
        assert c.reconnects == 1
    assert result.text and result.audio == b""


async def test_without_reconnect_a_dropped_connection_raises(url: str) -> None:
    async with Client(url) as c:
        c.ws.transport.abort()
        await c.ws.wait_closed()
        with pytest.raises(ConnectionClosed):
            await c.ask("hello")
