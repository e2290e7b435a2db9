"""A sentence starts being synthesized when its period arrives, before the char that confirms it.

The clause splitter takes a boundary only once it has seen the char after it ("3.5" and
"example.com" must not cut), which costs the first audio of every sentence one token of the
LLM. The writer tells the speaker which segment a space would release; the speaker starts its
first piece at once and keeps it only if that very segment is then released.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from tests.waiting import HANG_S
from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.messages import SegmentStart, TextDelta
from voicewire.responder import TurnContext
from voicewire.tts.fake import FakeToneTTS
from voicewire.turn import AudioOut, Outgoing, Turn, TurnOptions

SENTENCE = "The quick brown fox jumps over the lazy dog."


class RecordingTTS(FakeToneTTS):
    """The fake tone voice, noting each text it is asked for and each synthesis that ends."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []
        self.ended: list[str] = []
        self.called = asyncio.Event()

    async def synthesize(self, text: str, **kw: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        self.asked.append(text)
        self.called.set()
        try:
            async for chunk in super().synthesize(text, **kw):
                yield chunk
        finally:
            self.ended.append(text)


def turn_of(tts: RecordingTTS, *deltas: str, hold: asyncio.Event | None = None) -> Turn:
    """A turn whose reply is `deltas`; after the first, it waits until the TTS is called (and
    then, with `hold`, until that is set)."""
    emitted: list[Outgoing] = []

    async def responder(context: TurnContext) -> AsyncIterator[str]:
        yield deltas[0]
        await tts.called.wait()
        if hold is not None:
            await hold.wait()
        for delta in deltas[1:]:
            yield delta

    async def emit(item: Outgoing) -> None:
        emitted.append(item)

    turn = Turn(
        1,
        responder,
        TurnContext(text="hi", history=[], llm=ScriptedLLM("")),
        tts,
        emit,
        TurnOptions(),
    )
    turn.emitted = emitted  # type: ignore[attr-defined]
    return turn


def starts(turn: Turn) -> list[str]:
    emitted: list[Outgoing] = turn.emitted  # type: ignore[attr-defined]
    return [e.speech for e in emitted if isinstance(e, SegmentStart)]


async def test_a_sentence_is_synthesized_before_the_char_after_its_period_arrives() -> None:
    tts = RecordingTTS()
    # The reply's next token comes only once the sentence's speech has been asked for: without
    # the early start, the responder waits out its timeout and the turn fails.
    turn = turn_of(tts, SENTENCE, " Then it slept.")
    await asyncio.wait_for(turn.run(), HANG_S)
    assert turn.status == "complete" and turn.text == SENTENCE + " Then it slept."
    assert tts.asked == [SENTENCE, "Then it slept."]  # the early synthesis was kept, not redone
    assert starts(turn) == [SENTENCE, "Then it slept."]
    emitted: list[Outgoing] = turn.emitted  # type: ignore[attr-defined]
    segment_ids = [e.segment_id for e in emitted if isinstance(e, AudioOut)]
    assert segment_ids == sorted(segment_ids) and set(segment_ids) == {0, 1}


async def test_speech_started_on_a_period_that_ends_no_sentence_is_dropped_unheard() -> None:
    tts = RecordingTTS()
    turn = turn_of(tts, "It costs 3.", "5 dollars, all in.")
    await asyncio.wait_for(turn.run(), HANG_S)
    assert turn.status == "complete" and turn.text == "It costs 3.5 dollars, all in."
    assert tts.asked == ["It costs 3.", "It costs 3.5 dollars,", "all in."]
    assert "It costs 3." in tts.ended  # its synthesis was stopped, not left running
    assert starts(turn) == ["It costs 3.5 dollars,", "all in."]  # nothing of it was sent


async def test_a_turn_cut_short_stops_the_synthesis_it_started_early() -> None:
    tts = RecordingTTS()
    never = asyncio.Event()
    turn = turn_of(tts, SENTENCE, " More.", hold=never)
    task = asyncio.create_task(turn.run())
    await asyncio.wait_for(tts.called.wait(), HANG_S)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert turn.status == "interrupted"
    assert tts.ended == [SENTENCE] and starts(turn) == []
    emitted: list[Outgoing] = turn.emitted  # type: ignore[attr-defined]
    assert "".join(e.text for e in emitted if isinstance(e, TextDelta)) == SENTENCE
