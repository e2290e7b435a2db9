"""What a truncate keeps: the words whose audio had begun, also in a segment cut mid-way.

(A defect found by the Realtime truncate test: a segment whose audio was still being sent when
the turn was cancelled was not counted at all, so `heard_text` lost words the user had heard.)
"""

from __future__ import annotations

import asyncio

from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.frames import FrameFlags
from voicewire.responder import TurnContext, llm_responder
from voicewire.tts.fake import FakeToneTTS
from voicewire.turn import AudioOut, Outgoing, Turn, TurnOptions, heard_text

REPLY = "Sure, I can help with that. The flat has two bedrooms."


async def test_words_of_a_segment_cut_while_its_audio_is_sent_count_as_heard() -> None:
    held = asyncio.Event()

    async def emit(item: Outgoing) -> None:
        # The second segment's last frame waits, as on a full send queue, until cancelled.
        if (
            isinstance(item, AudioOut)
            and item.segment_id == 1
            and item.flags & FrameFlags.SEGMENT_END
        ):
            held.set()
            await asyncio.Event().wait()

    llm = ScriptedLLM(REPLY, tokens_per_second=0, first_token_ms=0)
    context = TurnContext(text="tell me", history=[], llm=llm)
    turn = Turn(1, llm_responder, context, FakeToneTTS(), emit, TurnOptions())
    task = asyncio.create_task(turn.run())
    await held.wait()
    task.cancel()
    await asyncio.wait({task})
    # The fake voice: "Sure," [0, 300) ms, "I" [340, 400), "can" [440, 620), "help" [660, 900).
    assert heard_text(turn, 700) == "Sure, I can help"
    assert heard_text(turn, 200) == "Sure,"
    assert heard_text(turn, 0) == ""
