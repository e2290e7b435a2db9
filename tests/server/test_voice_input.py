"""Voice input on the same socket: microphone frames → transcript → a spoken reply; barge-in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import serve
from tests.stt.speech import CHUNK, RATE, pieces, piper_question, resample, silence
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.frames import AudioFrame, CodecId, FrameFlags, FrameKind
from voicewire.protocol.messages import SpeechStarted, Transcript, TurnEnd, TurnStart
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS

REPLY = "Tomorrow in Paris it will be sunny, with a high of twenty degrees. Enjoy your day."


@pytest.fixture(scope="module")
def question() -> bytes:
    """Piper saying the question, at 16 kHz, with silence around it (0.5 s before, 1 s after)."""

    pcm, rate = piper_question()
    return silence(0.5) + resample(pcm, rate, RATE) + silence(1.0)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    llm = ScriptedLLM(REPLY * 4, tokens_per_second=20, first_token_ms=5)
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path_factory.mktemp("data"))
    with serve(create_app(settings, llm=llm, tts=FakeToneTTS())) as base:
        yield base.replace("http", "ws", 1) + "/ws"


def mic(seq: int, pcm: bytes) -> bytes:
    frame = AudioFrame(FrameKind.MICROPHONE, FrameFlags.NONE, CodecId.PCM16, seq, 0, 0, 0, pcm)
    return frame.encode()


async def speak(c: Client, audio: bytes) -> None:
    for i, piece in enumerate(pieces(audio, CHUNK)):  # 20 ms frames, as a microphone sends
        await c.ws.send(mic(i + 1, piece))


async def test_a_spoken_question_is_transcribed_and_answered_with_speech(
    url: str, question: bytes
) -> None:
    """pocketsphinx hears Piper's "what is the weather in Paris tomorrow" word for word."""
    async with Client(url) as c:
        await c.send_json({"type": "input_audio.start", "sample_rate": RATE})
        await speak(c, question)
        events = []
        while not isinstance(events[-1] if events else None, TurnEnd):
            events.append(await asyncio.wait_for(c.receive(), 30))
    transcripts = [e for e in events if isinstance(e, Transcript)]
    final = [t for t in transcripts if t.final]
    assert len(final) == 1
    assert "weather" in final[0].text.lower() and "paris" in final[0].text.lower()
    assert any(not t.final for t in transcripts), "no partial transcript came first"
    assert any(isinstance(e, SpeechStarted) for e in events)
    [start] = [e for e in events if isinstance(e, TurnStart)]
    assert start.reply_to == final[0].utterance_id
    end = events[-1]
    assert isinstance(end, TurnEnd) and end.status == "complete"
    assert any(isinstance(e, AudioFrame) for e in events), "the reply was not spoken"


async def test_speaking_while_the_bot_speaks_interrupts_its_turn(url: str, question: bytes) -> None:
    async with Client(url) as c:
        await c.send("tell me about the weather")
        while not isinstance(await c.receive(), AudioFrame):
            pass
        await c.send_json({"type": "input_audio.start", "sample_rate": RATE, "end": "manual"})
        await speak(c, question[: len(question) // 2])
        ended = None
        while ended is None:
            event = await asyncio.wait_for(c.receive(), 30)
            if isinstance(event, TurnEnd):
                ended = event
    assert ended.turn_id == 1 and ended.status == "interrupted"


async def test_push_to_talk_ends_the_utterance_on_input_audio_stop(
    url: str, question: bytes
) -> None:
    async with Client(url) as c:
        await c.send_json({"type": "input_audio.start", "sample_rate": RATE, "end": "manual"})
        await speak(c, question)
        await c.send_json({"type": "input_audio.stop"})
        final = None
        while final is None:
            event = await asyncio.wait_for(c.receive(), 30)
            if isinstance(event, Transcript) and event.final:
                final = event
        assert "paris" in final.text.lower()
        result = await c.collect_turn()
        assert result.end is not None and result.end.status == "complete"


async def test_without_speech_input_the_server_says_so(tmp_path: Path) -> None:
    settings = Settings(llm="scripted", tts="fake", stt="none", data_dir=tmp_path)
    with serve(create_app(settings, llm=ScriptedLLM("Hi."), tts=FakeToneTTS())) as base:
        async with Client(base.replace("http", "ws", 1) + "/ws") as c:
            await c.send_json({"type": "input_audio.start"})
            error = await c.receive()
    assert getattr(error, "code", None) == "stt_unavailable"
