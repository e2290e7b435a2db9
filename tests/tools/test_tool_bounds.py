"""What a tool cannot do to the rest of the server: hold its threads, flood the model's context,
or fail a turn by taking longer than the reply's own silence bound while it is allowed to run."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from tests.tools.test_loop import told, turn_of
from voicewire.llm.scripted import call_pieces
from voicewire.tools import tool


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
