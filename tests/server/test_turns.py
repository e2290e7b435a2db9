"""The turn and its runner without a server or a socket: a fake emit, a fake sink."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.tts.fake import RecordingTTS
from tests.waiting import HANG_S, until
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.messages import (
    Error,
    SegmentEnd,
    SegmentStart,
    TextDelta,
    TurnEnd,
    TurnStart,
    UserMessage,
)
from voicewire.responder import DataItem, TurnContext, llm_responder
from voicewire.server.metrics import Metrics
from voicewire.server.persist import StartGate
from voicewire.server.speech_load import SpeechLoad
from voicewire.server.turns import Conversation, TurnRunner, turn_options
from voicewire.tts.fake import FakeToneTTS
from voicewire.turn import AudioOut, Outgoing, Turn, TurnOptions

REPLY = "Sure, I can help. The flat has two bedrooms and a balcony."


async def test_a_turn_emits_its_text_at_once_and_segments_that_cover_it() -> None:
    emitted: list[Outgoing] = []

    async def emit(item: Outgoing) -> None:  # a fake emit: the turn's events, in order
        emitted.append(item)

    llm = ScriptedLLM(REPLY, tokens_per_second=0, first_token_ms=0)
    context = TurnContext(text="tell me", history=[], llm=llm)
    turn = Turn(1, llm_responder, context, FakeToneTTS(), emit, TurnOptions())
    await turn.run()
    assert turn.status == "complete" and turn.text == REPLY
    assert "".join(e.text for e in emitted if isinstance(e, TextDelta)) == REPLY
    starts = [e for e in emitted if isinstance(e, SegmentStart)]
    ends = [e for e in emitted if isinstance(e, SegmentEnd)]
    assert len(starts) == len(ends) >= 2 and starts[-1].char_end == len(REPLY)
    assert any(isinstance(e, AudioOut) and e.payload for e in emitted)


class FakeSink:
    """A fake send side: records what the runner queues; `put` can be held (a full queue)."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.room = asyncio.Event()
        self.room.set()
        self.dropped: set[int] = set()

    async def put(self, item: Any) -> None:
        await self.room.wait()
        self.items.append(item)

    def put_now(self, item: Any) -> None:
        self.items.append(item)

    def drop(self, turn_id: int) -> None:
        self.dropped.add(turn_id)


def runner_of(tmp_path: Path, responder: Any, sink: FakeSink) -> TurnRunner:
    tts = FakeToneTTS()
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path)
    services: Any = SimpleNamespace(
        settings=settings,
        tts=tts,
        llm=ScriptedLLM(REPLY),
        responder=responder,
        store=None,
        metrics=Metrics(tts),
        hub=SimpleNamespace(node="n"),
        speech=SpeechLoad.of(settings, tts),
        tools=None,
    )
    conversation = Conversation.open(services, "", [])
    return TurnRunner(services, sink, conversation, asyncio.create_task, identity="u")


def options(runner: TurnRunner, voice: bool = True) -> TurnOptions:
    return turn_options(runner.services, voice=voice, codec="pcm16", sample_rate=22050)


async def test_a_turn_cancelled_while_its_end_waits_for_room_is_ended_once(
    tmp_path: Path,
) -> None:
    sink = FakeSink()
    runner = runner_of(tmp_path, llm_responder, sink)
    sink.room.clear()  # nothing gets into the queue: the turn waits on its first put
    await runner.start(UserMessage(id="m", text="hi"), 1, options(runner, voice=False))
    await runner.cancel(1, played_ms=0)
    await runner.cancel(1, played_ms=0)  # a second cancel changes nothing
    kinds = [type(i).__name__ for i in sink.items]
    assert kinds == ["TurnStart", "TurnEnd"]
    end = sink.items[-1]
    assert isinstance(end, TurnEnd) and end.status == "interrupted" and end.turn_id == 1
    assert runner.running is None and 1 in sink.dropped


async def test_a_new_turn_ends_the_running_one_before_it_starts(tmp_path: Path) -> None:
    sink = FakeSink()

    async def slow(ctx: TurnContext) -> AsyncIterator[str | DataItem]:
        yield "Hello"
        await asyncio.Event().wait()  # never ends by itself

    runner = runner_of(tmp_path, slow, sink)
    await runner.start(UserMessage(id="m1", text="a"), 1, options(runner, voice=False))
    await until(lambda: any(isinstance(i, TextDelta) for i in sink.items), "turn 1 writes")
    await runner.start(UserMessage(id="m2", text="b"), 2, options(runner, voice=False))
    await until(
        lambda: any(isinstance(i, TextDelta) and i.turn_id == 2 for i in sink.items), "turn 2"
    )
    await runner.cancel()
    events = [(type(i).__name__, i.turn_id) for i in sink.items if not isinstance(i, TextDelta)]
    assert events == [("TurnStart", 1), ("TurnEnd", 1), ("TurnStart", 2), ("TurnEnd", 2)]
    history = [(m.role, m.content) for m in runner.conversation.history]
    assert history == [("user", "a"), ("assistant", "Hello"), ("user", "b"), ("assistant", "Hello")]


async def test_a_responder_that_raises_ends_its_turn_failed_with_an_error(tmp_path: Path) -> None:
    sink = FakeSink()

    async def broken(ctx: TurnContext) -> AsyncIterator[str | DataItem]:
        yield "Part"
        raise ValueError("a bug in the app")

    runner = runner_of(tmp_path, broken, sink)
    await runner.start(UserMessage(id="m", text="a"), 1, options(runner, voice=False))
    await until(lambda: runner.running is None, "the turn ends")
    assert isinstance(sink.items[0], TurnStart)
    assert isinstance(sink.items[-2], Error) and sink.items[-2].code == "internal_error"
    end = sink.items[-1]
    assert isinstance(end, TurnEnd) and end.status == "failed" and end.text == "Part"


async def test_a_connection_keeps_at_most_history_messages_of_its_conversation(
    tmp_path: Path,
) -> None:
    sink = FakeSink()
    runner = runner_of(tmp_path, llm_responder, sink)
    limit = runner.services.settings.history_messages
    for turn_id in range(1, limit + 3):
        message = UserMessage(id=f"m{turn_id}", text=f"q{turn_id}")
        await runner.start(message, turn_id, options(runner, voice=False))
        await until(lambda: runner.running is None, "the turn ends")
    assert len(runner.conversation.history) == limit
    assert runner.conversation.history[-2].content == f"q{limit + 2}"


async def test_speech_is_synthesized_while_the_user_message_is_still_being_stored() -> None:
    # A burst of turns on SQLite commits their questions one after another; the first audio
    # must not wait for the commit to start being made, only to be sent.
    sent: list[Any] = []

    async def put(item: Any) -> None:
        sent.append(item)

    stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    gate = StartGate(put, TurnStart(turn_id=1, reply_to="m"), stored)
    tts = RecordingTTS()
    llm = ScriptedLLM(REPLY, tokens_per_second=0, first_token_ms=0)
    context = TurnContext(text="tell me", history=[], llm=llm)
    turn = Turn(1, llm_responder, context, tts, gate.emit, TurnOptions())
    task = asyncio.create_task(turn.run())
    await asyncio.wait_for(tts.started.wait(), HANG_S)
    assert sent == []  # nothing of the reply goes out before its question is stored
    stored.set_result(None)
    await task
    kinds = [type(i).__name__ for i in sent]
    assert kinds[0] == "TurnStart" and kinds.count("TurnStart") == 1
    written = 0
    for item in sent:  # every segment is announced after the text it speaks
        written += len(item.text) if isinstance(item, TextDelta) else 0
        assert not isinstance(item, SegmentStart) or item.char_end <= written
    assert "".join(i.text for i in sent if isinstance(i, TextDelta)) == REPLY


async def test_a_segment_is_announced_after_its_text_even_when_the_text_waits_to_be_sent() -> None:
    # Synthesis starts on a segment before its text is sent; sending the text may wait (a full
    # queue), but the segment's start must not overtake it: a client highlights by char offset.
    sent: list[Any] = []
    hold = asyncio.Event()

    async def emit(item: Any) -> None:
        if isinstance(item, TextDelta) and not hold.is_set():
            await hold.wait()  # the text side waits for room
        sent.append(item)

    tts = RecordingTTS()
    llm = ScriptedLLM(REPLY, tokens_per_second=0, first_token_ms=0)
    context = TurnContext(text="tell me", history=[], llm=llm)
    turn = Turn(1, llm_responder, context, tts, emit, TurnOptions())
    task = asyncio.create_task(turn.run())
    await asyncio.wait_for(tts.started.wait(), HANG_S)
    for _ in range(20):  # the speech side runs as far as it can
        await asyncio.sleep(0)
    assert not any(isinstance(i, SegmentStart) for i in sent)
    hold.set()
    await task
    written = 0
    for item in sent:
        written += len(item.text) if isinstance(item, TextDelta) else 0
        assert not isinstance(item, SegmentStart) or item.char_end <= written


def test_a_listener_that_ran_dry_plays_on_from_when_the_late_audio_came() -> None:
    speaker = Turn(
        1,
        llm_responder,
        TurnContext("", [], ScriptedLLM("")),
        FakeToneTTS(),
        lambda item: asyncio.sleep(0),
        TurnOptions(),
    ).speaker
    speaker._arrived(100.0, 0.5)
    speaker._arrived(100.2, 0.5)  # on time: the listener's audio runs out at 101.0
    assert speaker.play_start == 100.0 and speaker.queued_s == 1.0
    speaker._arrived(103.0, 0.5)  # 2 s late: the listener waited from 101.0 to 103.0
    # The next piece is due when this one has played, not 2.5 s ago (every later piece was
    # sized for a listener already late: the smallest, and the least efficient, ones).
    assert speaker.play_start + speaker.queued_s == 103.5
