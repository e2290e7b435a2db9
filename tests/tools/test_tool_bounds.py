"""What a tool cannot do to the rest of the server: hold its threads, flood the model's context,
or fail a turn by taking longer than the reply's own silence bound while it is allowed to run."""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import serve
from tests.tools.test_loop import ASK, told, turn_of
from tests.waiting import until
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedToolLLM, Step, call_pieces
from voicewire.protocol.messages import Data, ToolCall, ToolResult
from voicewire.responder import DataItem, TurnContext, llm_responder
from voicewire.server.app import create_app
from voicewire.tools import Toolbox, tool
from voicewire.tts.fake import FakeToneTTS
from voicewire.turn import Outgoing, Turn, TurnOptions


async def test_sync_tools_left_running_do_not_hold_the_threads_the_rest_of_the_server_uses() -> (
    None
):
    # The default executor also encodes audio and loads voices; a hung tool must not take it.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=1))
    release = threading.Event()

    @tool(timeout_s=0.01)
    def hangs() -> str:
        release.wait()
        return "late"

    try:
        turn, _, llm = turn_of([call_pieces(0, "h", "hangs", "{}"), ["It hung."]], hangs)
        await turn.run()
        assert told(llm) == [{"error": "hangs did not answer within 0.01 s"}]
        async with asyncio.timeout(10):  # a guard: the default executor's one thread is free
            assert await asyncio.to_thread(lambda: "free") == "free"
    finally:
        release.set()


async def test_a_huge_tool_result_is_cut_before_it_reaches_the_model_and_the_stored_reply() -> None:
    @tool
    def dump() -> str:
        return "x" * 1_000_000

    turn, _, llm = turn_of([call_pieces(0, "d", "dump", "{}"), ["Too much."]], dump)
    await turn.run()
    told_text = next(m.content for m in llm.seen[1][0] if m.role == "tool")
    assert len(told_text) < 20_000 and "1000000" in told_text
    assert turn.tools[0].record()["content"] == told_text


async def test_a_tool_allowed_longer_than_the_replys_silence_bound_does_not_fail_the_turn() -> None:
    @tool(timeout_s=30)
    async def slow() -> str:
        await asyncio.sleep(1.5)
        return "done"

    emitted: list[Outgoing] = []

    async def emit(item: Outgoing) -> None:
        emitted.append(item)

    steps: list[Step] = [call_pieces(0, "s", "slow", "{}"), ["It is done."]]
    llm = ScriptedToolLLM(steps)
    context = TurnContext(text="q", history=ASK, llm=llm, tools=Toolbox.of([slow], bridge=None))
    options = TurnOptions(timeout_s=0.5)  # the server's llm_timeout_s
    turn = Turn(1, llm_responder, context, FakeToneTTS(), emit, options)
    await turn.run()
    assert turn.status == "complete" and turn.text == "It is done."
    assert turn.tools[0].status == "ok" and turn.tools[0].content == "done"


class Listing:
    """A value JSON cannot encode: the model is told str(value)."""

    def __str__(self) -> str:
        return "Listing 7"


@tool(visible=True)
async def fetch_listing() -> Listing:
    """A listing, as the app's own object."""
    return Listing()


async def test_a_visible_tool_result_json_cannot_encode_reaches_the_client_as_the_model_saw_it(
    tmp_path: Path,
) -> None:
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path)
    llm = ScriptedToolLLM([call_pieces(0, "l", "fetch_listing", "{}"), ["Here it is."]])
    app = create_app(settings, llm=llm, tts=FakeToneTTS(), tools=[fetch_listing])
    with serve(app) as base:
        async with Client(base.replace("http", "ws") + "/ws") as c:
            async with asyncio.timeout(20):  # a guard: on failure the connection breaks
                result = await c.ask("Show me the listing.")
    results = [e for _, e in result.events if isinstance(e, ToolResult)]
    assert [(r.status, r.result) for r in results] == [("ok", "Listing 7")]
    assert result.end is not None and result.end.text == "Here it is."


async def test_a_tool_that_swallows_its_cancel_is_abandoned_after_a_grace_and_the_turn_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    running, swallowed, release, ended = (asyncio.Event() for _ in range(4))

    @tool
    async def stubborn() -> str:
        running.set()
        try:
            while True:
                try:
                    await release.wait()
                    return "late"
                except asyncio.CancelledError:
                    swallowed.set()  # a badly written tool: it goes on after its cancel
        finally:
            ended.set()

    steps: list[Step] = [call_pieces(0, "s", "stubborn", "{}"), ["Never said."]]
    turn, emitted, llm = turn_of(steps, stubborn, cancel_grace_s=0.01)
    task = asyncio.create_task(turn.run())
    try:
        await running.wait()
        task.cancel()
        async with asyncio.timeout(20):  # a guard: before the fix the turn waited forever
            await asyncio.wait({task})
        assert swallowed.is_set() and not ended.is_set()  # the turn ended without it
        assert turn.status == "interrupted" and len(llm.seen) == 1
        assert turn.tools[0].record()["status"] == "cancelled"
        assert "stubborn" in caplog.text and "abandoned" in caplog.text
    finally:
        release.set()
    await ended.wait()
    # Its late end changes nothing: the run stays cancelled, and no tool.result was sent.
    assert turn.tools[0].record()["status"] == "cancelled"
    assert not any(isinstance(e, ToolResult) for e in emitted)


async def test_calls_past_max_calls_per_step_are_not_run_and_the_model_is_told_why() -> None:
    ran: list[int] = []

    @tool
    async def look(n: int) -> int:
        ran.append(n)
        return n

    asked = [p for n in range(20) for p in call_pieces(n, f"c{n}", "look", f'{{"n": {n}}}')]
    turn, emitted, llm = turn_of([asked, ["Done."]], look)
    await turn.run()
    assert sorted(ran) == list(range(8))  # the default bound
    answers = told(llm)
    assert answers[:8] == list(range(8)) and len(answers) == 20  # every call is answered
    assert all("at most 8" in answer["error"] for answer in answers[8:])
    assert [e.call_id for e in emitted if isinstance(e, ToolCall)] == [f"c{n}" for n in range(8)]
    assert [run.call.id for run in turn.tools] == [f"c{n}" for n in range(8)]
    assert turn.status == "complete" and turn.text == "Done."


async def test_a_tool_that_ended_just_before_a_barge_in_is_stored_with_its_outcome_unsent() -> None:
    # Not a defect (PROTOCOL.md §9): the tool did run, and the model must know it on the next
    # turn (a booking made must not be made twice), though the client got no `tool.result`.
    @tool
    async def book() -> Any:
        yield DataItem("booking", {"id": 3})
        yield {"booked": 3}

    turn, emitted, llm = turn_of([call_pieces(0, "b", "book", "{}"), ["Booked."]], book)
    task = asyncio.create_task(turn.run())

    async def emit(item: Outgoing) -> None:  # the barge-in comes as the card is sent
        emitted.append(item)
        if isinstance(item, Data):
            await until(lambda: turn.tools[0].status != "running", "the tool's end")
            task.cancel()
            await asyncio.sleep(0)  # the cancel lands here, as it does while a send waits

    turn.writer.emit = emit
    await asyncio.wait({task})
    assert turn.status == "interrupted" and len(llm.seen) == 1
    assert not any(isinstance(e, ToolResult) for e in emitted)
    record = turn.tools[0].record()
    assert (record["status"], json.loads(record["content"])) == ("ok", {"booked": 3})


async def test_a_tool_that_swallows_the_cancel_of_its_own_timeout_still_times_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release, ended = asyncio.Event(), asyncio.Event()

    @tool(timeout_s=0.01)
    async def stubborn() -> str:
        try:
            while True:
                try:
                    await release.wait()
                    return "late"
                except asyncio.CancelledError:
                    pass  # a badly written tool: it goes on after its cancel
        finally:
            ended.set()

    steps: list[Step] = [call_pieces(0, "s", "stubborn", "{}"), ["It did not answer."]]
    turn, emitted, llm = turn_of(steps, stubborn, cancel_grace_s=0.01)
    try:
        async with asyncio.timeout(20):  # a guard: before the fix the step waited forever
            await turn.run()
        assert told(llm) == [{"error": "stubborn did not answer within 0.01 s"}]
        assert turn.status == "complete" and turn.text == "It did not answer."
        results = [e for e in emitted if isinstance(e, ToolResult)]
        assert [r.status for r in results] == ["timeout"] and "abandoned" in caplog.text
    finally:
        release.set()
    await ended.wait()
    assert turn.tools[0].record()["status"] == "timeout"
