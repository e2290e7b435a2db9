"""Voice input: microphone frames → transcript → a spoken reply; barge-in (over the socket,
with pocketsphinx and Piper); and `Microphone`'s bounds and failures, in-process against a fake
STT engine (tests/stt/fake.py): the process-wide stream cap, the audio budget, STT failures,
audio while the microphone is off."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import serve
from tests.stt.fake import FakeClock, FakeSTT, Heard
from tests.stt.speech import CHUNK, RATE, pieces, piper_question, resample, silence
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.frames import AudioFrame, CodecId, FrameFlags, FrameKind
from voicewire.protocol.messages import (
    Error,
    InputAudioStart,
    Pong,
    SpeechStarted,
    Transcript,
    TurnEnd,
    TurnStart,
)
from voicewire.server.app import create_app
from voicewire.server.voice_input import AudioFlood, LazySTT, Microphone
from voicewire.stt.pocketsphinx import PocketsphinxSTT
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
    # speak() sends recorded speech as fast as the socket takes it, not in real time.
    settings = Settings(
        llm="scripted",
        tts="fake",
        stt="pocketsphinx",  # it decodes as audio comes: partials even when sent at once
        data_dir=tmp_path_factory.mktemp("data"),
        stt_audio_burst_s=60.0,
    )
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


# The microphone's bounds over the socket, with a fake STT engine.
SILENT_FRAME = bytes(640)  # 20 ms at 16 kHz


@contextlib.contextmanager
def fake_stt_server(tmp_path: Path, engine: FakeSTT | None, **overrides: Any) -> Iterator[str]:
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path, **overrides)
    llm = ScriptedLLM(REPLY, tokens_per_second=40, first_token_ms=5)
    with serve(create_app(settings, llm=llm, tts=FakeToneTTS(), stt=engine)) as base:
        yield base.replace("http", "ws", 1) + "/ws"


async def until_pong(c: Client, ping_id: str) -> list[object]:
    """Ping, and receive until its pong: everything the server said about what came before."""
    await c.send_json({"type": "ping", "id": ping_id})
    events: list[object] = []
    while not (isinstance(events[-1] if events else None, Pong) and events[-1].id == ping_id):
        events.append(await asyncio.wait_for(c.receive(), 30))
    return events


def error_codes(events: list[object]) -> list[str]:
    return [e.code for e in events if isinstance(e, Error)]


async def test_with_stt_preload_the_decoders_are_made_before_serving(tmp_path: Path) -> None:
    engine = FakeSTT()
    with fake_stt_server(tmp_path, engine, stt_preload=True, max_stt_streams=3):
        assert [count for count, _ in engine.warmed] == [3]
    assert threading.get_ident() not in [thread for _, thread in engine.warmed]


async def test_an_stt_failure_costs_the_utterance_not_the_session_nor_its_turn(
    tmp_path: Path,
) -> None:
    """Defect 8: a remote STT that fails closed the session 1011, and the running turn with it."""
    with fake_stt_server(tmp_path, FakeSTT(fail_finish=True)) as url:
        async with Client(url, resume=False) as c:
            await c.send("tell me about the weather", voice=False)
            await c.send_json({"type": "input_audio.start", "end": "manual"})
            await c.ws.send(mic(1, SILENT_FRAME))
            await c.send_json({"type": "input_audio.stop"})
            events = await until_pong(c, "after")
            while not any(isinstance(e, TurnEnd) for e in events):
                events.append(await asyncio.wait_for(c.receive(), 30))
    assert error_codes(events) == ["stt_failed"]
    finals = [e for e in events if isinstance(e, Transcript) and e.final]
    assert [f.text for f in finals] == [""]
    [end] = [e for e in events if isinstance(e, TurnEnd)]
    assert end.status == "complete" and end.text == REPLY


async def test_a_microphone_over_the_stream_cap_is_told_stt_busy(tmp_path: Path) -> None:
    """Defect 4: every microphone got its own decoder, with no cap."""
    engine = FakeSTT()
    with fake_stt_server(tmp_path, engine, max_stt_streams=1) as url:
        async with Client(url, resume=False) as first, Client(url, resume=False) as second:
            await first.send_json({"type": "input_audio.start"})
            await first.ws.send(mic(1, SILENT_FRAME))
            assert error_codes(await until_pong(first, "first")) == []
            await second.send_json({"type": "input_audio.start"})
            await second.ws.send(mic(1, SILENT_FRAME))
            assert error_codes(await until_pong(second, "second")) == [
                "stt_busy",
                "microphone_off",
            ]
    assert len(engine.streams) == 1


async def test_audio_after_stt_unavailable_is_answered_not_silently_dropped(
    tmp_path: Path,
) -> None:
    with fake_stt_server(tmp_path, None, stt="none") as url:
        async with Client(url, resume=False) as c:
            await c.send_json({"type": "input_audio.start"})
            for seq in range(1, 4):
                await c.ws.send(mic(seq, SILENT_FRAME))
            events = await until_pong(c, "p")
    assert error_codes(events) == ["stt_unavailable", "microphone_off"]


async def test_audio_faster_than_real_time_is_dropped_and_a_flood_is_closed_4008(
    tmp_path: Path,
) -> None:
    """Defect 4: microphone frames were exempt from every rate limit."""
    engine = FakeSTT()
    settings = {"stt_audio_burst_s": 0.1, "stt_audio_flood_s": 2.0}
    with fake_stt_server(tmp_path, engine, **settings) as url:
        async with Client(url, resume=False) as c:
            await c.send_json({"type": "input_audio.start"})
            for seq in range(1, 51):  # 1 s at once
                await c.ws.send(mic(seq, SILENT_FRAME))
            assert error_codes(await until_pong(c, "p")) == ["rate_limited"]
            assert engine.fed < 50 * len(SILENT_FRAME)
            with pytest.raises(ConnectionClosed) as closed:
                for seq in range(51, 1000):  # 19 s more
                    await c.ws.send(mic(seq, SILENT_FRAME))
                await until_pong(c, "q")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008


# Microphone, in-process, against a fake STT engine.

FRAME = bytes(640)  # 20 ms of silence at 16 kHz


def settings(**overrides: Any) -> Settings:
    return Settings(llm="scripted", tts="fake", **overrides)


def microphone(
    stt: LazySTT, heard: Heard, clock: FakeClock | None = None, **overrides: Any
) -> Microphone:
    return Microphone(
        stt,
        settings(**overrides),
        on_speech=heard.speech,
        on_transcript=heard.transcript,
        on_error=heard.error,
        clock=clock or FakeClock(),
    )


def start(end: str = "manual", sample_rate: int = 16000, voice: bool = True) -> InputAudioStart:
    return InputAudioStart.model_validate({"end": end, "sample_rate": sample_rate, "voice": voice})


async def test_a_microphone_over_the_stream_cap_is_told_stt_busy_and_its_audio_is_not_decoded() -> (
    None
):
    engine = FakeSTT()
    stt = LazySTT(settings(max_stt_streams=2), engine)
    heard = [Heard() for _ in range(3)]
    mics = [microphone(stt, h) for h in heard]
    for mic in mics:
        await mic.start(start())
    assert [h.errors() for h in heard] == [[], [], ["stt_busy"]]
    assert len(engine.streams) == 2
    for _ in range(3):
        await mics[2].feed(FRAME)
    assert heard[2].errors() == ["stt_busy", "microphone_off"]
    assert len(engine.streams) == 2 and engine.fed == 0


async def test_stop_and_close_give_the_stream_slot_back() -> None:
    stt = LazySTT(settings(max_stt_streams=1), FakeSTT())
    first, second = Heard(), Heard()
    a, b = microphone(stt, first), microphone(stt, second)
    await a.start(start())
    await b.start(start())
    await a.stop()
    await b.start(start())
    assert second.errors() == ["stt_busy"]
    await b.close()
    await b.close()
    assert stt.slots.in_use == 0
    await a.start(start())
    assert first.errors() == []


async def test_a_restarted_microphone_keeps_its_slot() -> None:
    stt = LazySTT(settings(max_stt_streams=1), FakeSTT())
    heard = Heard()
    mic = microphone(stt, heard)
    await mic.start(start())
    await mic.start(start(end="vad", voice=False))
    assert heard.errors() == [] and stt.slots.in_use == 1
    assert mic.voice_reply is False


async def test_over_the_cap_no_pocketsphinx_decoder_is_made_and_the_ones_made_are_reused() -> None:
    """With the real engine: ~92 MB and 0.3-1.7 s of held GIL per decoder, measured here."""
    engine = PocketsphinxSTT(keep=1)  # its first decoder is made here
    try:
        stt = LazySTT(settings(max_stt_streams=1), engine)
        first, second = Heard(), Heard()
        a, b = microphone(stt, first), microphone(stt, second)
        await a.start(start())
        await a.feed(FRAME)
        await b.start(start())
        await b.feed(FRAME)
        await a.stop()
        await b.start(start())
        await b.feed(FRAME)
        await b.stop()
        assert first.errors() == [] and second.errors() == ["stt_busy", "microphone_off"]
        assert first.finals() == second.finals() == [""]
        assert engine.created == 1
    finally:
        engine.close()


async def test_streams_are_opened_off_the_event_loop() -> None:
    engine = FakeSTT()
    mic = microphone(LazySTT(settings(), engine), Heard())
    await mic.start(start())
    await mic.feed(FRAME)
    await mic.stop()
    await mic.start(start())
    assert len(engine.opened_on) == 2
    assert threading.get_ident() not in engine.opened_on


async def test_audio_faster_than_real_time_is_dropped_with_one_error_per_utterance() -> None:
    engine, heard, clock = FakeSTT(), Heard(), FakeClock()
    mic = microphone(LazySTT(settings(), engine), heard, clock)  # burst 2 s, refill 1.25x
    await mic.start(start())
    for _ in range(150):  # 3 s at once
        await mic.feed(FRAME)
    assert engine.fed == 2 * 16000 * 2
    assert heard.errors() == ["rate_limited"]
    clock.now += 1.0  # 1.25 s of budget, and the client is back to real time: heard at once
    for _ in range(50):
        await mic.feed(FRAME)
    assert engine.fed == 3 * 16000 * 2
    await mic.stop()  # the next utterance may be told again
    await mic.start(start())
    for _ in range(20):
        await mic.feed(FRAME)
    assert heard.errors() == ["rate_limited", "rate_limited"]


async def test_a_client_that_keeps_flooding_is_closed() -> None:
    mic = microphone(LazySTT(settings(), FakeSTT()), Heard(), stt_audio_flood_s=1.0)
    await mic.start(start())
    for _ in range(100 + 50):  # the 2 s burst, then 1 s dropped
        await mic.feed(FRAME)
    with pytest.raises(AudioFlood) as flood:
        await mic.feed(FRAME)
    assert flood.value.close_code == 4008 and flood.value.code == "rate_limited"


async def test_an_stt_failure_on_audio_ends_the_utterance_with_an_error_not_the_session() -> None:
    """Defect 8: the failure used to escape to the connection, which closed 1011."""
    engine, heard = FakeSTT(fail_feed=True), Heard()
    mic = microphone(LazySTT(settings(), engine), heard)
    await mic.start(start())
    await mic.feed(FRAME)
    assert heard.errors() == ["stt_failed"] and heard.finals() == [""]
    assert engine.streams[0].closed
    engine.fail_feed = False  # the engine is back: the next utterance is heard
    await mic.feed(FRAME)
    await mic.stop()
    assert heard.finals() == ["", "hello world"] and len(engine.streams) == 2


async def test_an_stt_failure_at_the_end_of_an_utterance_is_an_error_and_frees_the_slot() -> None:
    stt, heard = LazySTT(settings(max_stt_streams=1), FakeSTT(fail_finish=True)), Heard()
    mic = microphone(stt, heard)
    await mic.start(start())
    await mic.feed(FRAME)
    await mic.stop()
    assert heard.errors() == ["stt_failed"]
    assert [e[0] for e in heard.events] == ["partial", "error", "final"]
    assert heard.finals() == [""] and stt.slots.in_use == 0


async def test_an_stt_failure_when_the_pause_ends_the_utterance_is_an_error() -> None:
    """End of speech found by the detector (24 kHz: its energy backend) while the engine fails."""
    heard = Heard()
    mic = microphone(LazySTT(settings(), FakeSTT(fail_finish=True)), heard)
    await mic.start(start(end="vad", sample_rate=24000))
    rng = np.random.default_rng(1)
    loud = (rng.standard_normal(24000 // 50) * 8000).astype("<i2").tobytes()
    for _ in range(15):  # 300 ms of loud noise, then a second of silence
        await mic.feed(loud)
    for _ in range(50):
        await mic.feed(bytes(2 * 24000 // 50))
    assert [e[0] for e in heard.events if e[0] != "partial"] == ["speech", "error", "final"]
    assert heard.finals() == [""]


async def test_an_utterance_over_its_maximum_length_ends_with_stt_failed() -> None:
    engine, heard = FakeSTT(), Heard()
    mic = microphone(LazySTT(settings(), engine), heard, stt_max_utterance_s=0.1)
    await mic.start(start())
    for _ in range(6):  # the sixth frame would make 120 ms
        await mic.feed(FRAME)
    assert heard.errors() == ["stt_failed"] and heard.finals() == [""]
    assert engine.streams[0].fed == 5 * len(FRAME) and engine.streams[0].closed
    await mic.feed(FRAME)  # a new utterance
    assert len(engine.streams) == 2 and engine.streams[1].fed == len(FRAME)


async def test_audio_after_stt_unavailable_is_answered_once_per_start() -> None:
    heard = Heard()
    mic = microphone(LazySTT(settings(stt="none")), heard)
    for _ in range(2):
        await mic.start(start())
        for _ in range(3):
            await mic.feed(FRAME)
    assert heard.errors() == ["stt_unavailable", "microphone_off"] * 2


async def test_audio_after_input_audio_stop_is_answered_once() -> None:
    heard = Heard()
    mic = microphone(LazySTT(settings(), FakeSTT()), heard)
    await mic.start(start())
    await mic.stop()
    for _ in range(3):
        await mic.feed(FRAME)
    assert heard.errors() == ["microphone_off"]
