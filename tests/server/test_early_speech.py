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

from tests.tts.fake import RecordingTTS
from tests.waiting import HANG_S, until
from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.errors import ErrorCode
from voicewire.protocol.messages import Error, SegmentStart, TextDelta
from voicewire.responder import TurnContext
from voicewire.text.segmenter import ClauseSplitter
from voicewire.tts.base import TTSError
from voicewire.turn import AudioOut, Outgoing, Turn, TurnOptions
from voicewire.turn.base import Likely, Segments
from voicewire.turn.speaker import Chunk, Speaker

SENTENCE = "The quick brown fox jumps over the lazy dog."


def turn_of(tts: RecordingTTS, *deltas: str, hold: asyncio.Event | None = None) -> Turn:
    """A turn whose reply is `deltas`; after the first, it waits until the TTS is called (and
    then, with `hold`, until that is set)."""
    emitted: list[Outgoing] = []

    async def responder(context: TurnContext) -> AsyncIterator[str]:
        yield deltas[0]
        await tts.started.wait()
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
    await asyncio.wait_for(tts.started.wait(), HANG_S)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert turn.status == "interrupted"
    assert tts.ended == [SENTENCE] and starts(turn) == []
    emitted: list[Outgoing] = turn.emitted  # type: ignore[attr-defined]
    assert "".join(e.text for e in emitted if isinstance(e, TextDelta)) == SENTENCE


class FailingTTS(RecordingTTS):
    """Fails at once on every text (a backend that is down)."""

    async def synthesize(self, text: str, **kw: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        self.asked.append(text)
        self.started.set()
        raise TTSError("the voice is down")
        yield  # (an async generator)


async def test_an_early_start_that_fails_is_reported_once_and_the_reply_goes_on_as_text() -> None:
    tts = FailingTTS()
    turn = turn_of(tts, SENTENCE, " Then it slept.")
    await asyncio.wait_for(turn.run(), HANG_S)
    emitted: list[Outgoing] = turn.emitted  # type: ignore[attr-defined]
    errors = [e.code for e in emitted if isinstance(e, Error)]
    assert turn.status == "complete" and errors == [ErrorCode.TTS_FAILED]
    assert starts(turn) == [] and tts.asked == [SENTENCE]  # later segments are not tried
    assert "".join(e.text for e in emitted if isinstance(e, TextDelta)) == turn.text


async def test_a_likely_segment_is_not_started_early_while_its_listener_has_audio_to_play() -> None:
    # The token's wait is no loss then, and a guess that proves wrong would cost a large piece.
    tts = RecordingTTS()
    speaker = Speaker(1, tts, emit=lambda item: asyncio.sleep(0), options=TurnOptions())
    segments: asyncio.Queue[Segments] = asyncio.Queue()
    chunks: asyncio.Queue[Chunk | None] = asyncio.Queue()
    task = asyncio.create_task(speaker.synthesize(segments, chunks))
    splitter = ClauseSplitter()
    (first,) = splitter.feed("The flat has two large bedrooms and a bright kitchen. ")
    segments.put_nowait(first)
    while (await chunks.get()) != (first, None):
        pass
    assert (speaker.ahead_s() or 0.0) > 2.0  # ~3.5 s of tone made, none played yet
    splitter.feed("It is free.")
    likely = splitter.peek()
    assert likely is not None
    segments.put_nowait(Likely(likely))
    await until(segments.empty, "the speaker takes the likely segment")
    assert tts.asked == [first.speech]  # not started early
    segments.put_nowait(None)
    await asyncio.wait_for(task, HANG_S)
