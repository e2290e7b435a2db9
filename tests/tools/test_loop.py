"""A turn with tools, driven by the scripted tool-calling LLM: calls streamed in awkward pieces."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from tests.waiting import until
from voicewire.llm.base import ChatMessage
from voicewire.llm.scripted import ScriptedToolLLM, Step, call_pieces
from voicewire.protocol.messages import SegmentEnd, SegmentStart, TextDelta, ToolCall, ToolResult
from voicewire.responder import DataItem, TurnContext, llm_responder
from voicewire.tools import Toolbox, tool
from voicewire.tts.fake import FakeToneTTS
from voicewire.turn import Outgoing, Turn, TurnOptions

ASK = [ChatMessage("user", "Any two-bedroom flats in Zürich?")]


def turn_of(
    steps: list[Step], *tools: Any, **settings: Any
) -> tuple[Turn, list[Outgoing], ScriptedToolLLM]:
    emitted: list[Outgoing] = []

    async def emit(item: Outgoing) -> None:  # a fake emit: the turn's events, in order
        emitted.append(item)

    llm = ScriptedToolLLM(steps)
    settings.setdefault("bridge", None)
    context = TurnContext(
        text=ASK[0].content, history=ASK, llm=llm, tools=Toolbox.of(tools, **settings)
    )
    return Turn(1, llm_responder, context, FakeToneTTS(), emit, TurnOptions()), emitted, llm


def told(llm: ScriptedToolLLM, step: int = 1) -> list[dict[str, Any]]:
    """What the model was told by the tools before `step`."""
    return [json.loads(m.content) for m in llm.seen[step][0] if m.role == "tool"]


found: list[dict[str, Any]] = []


@tool(visible=True)
async def search_properties(city: str, bedrooms: int | None = None) -> list[dict[str, Any]]:
    """Find flats for rent."""
    found.append({"city": city, "bedrooms": bedrooms})
    return [{"id": 7, "city": city, "bedrooms": bedrooms}]


async def test_a_call_streamed_in_awkward_pieces_runs_and_the_reply_goes_on_with_its_result() -> (
    None
):
    found.clear()
    arguments = json.dumps({"city": "Zürich", "bedrooms": 2})  # \u00fc escape cut mid-way
    steps: list[Step] = [
        [
            "Sure,",
            " let me look.",
            *call_pieces(0, "call_1", "search_properties", arguments, size=2),
        ],
        ["I found", " one flat."],
    ]
    turn, emitted, llm = turn_of(steps, search_properties)
    await turn.run()
    assert turn.status == "complete" and turn.text == "Sure, let me look.I found one flat."
    assert found == [{"city": "Zürich", "bedrooms": 2}]
    assert told(llm) == [[{"id": 7, "city": "Zürich", "bedrooms": 2}]]
    call = next(e for e in emitted if isinstance(e, ToolCall))
    result = next(e for e in emitted if isinstance(e, ToolResult))
    assert (call.call_id, call.name, call.arguments) == (
        "call_1",
        "search_properties",
        json.loads(arguments),
    )
    assert result.status == "ok" and result.result == [{"id": 7, "city": "Zürich", "bedrooms": 2}]
    # What was said before the call is cut off as a segment of its own ("look.I" is no boundary).
    said = [e.text for e in emitted if isinstance(e, SegmentStart)]
    assert said == ["Sure,", " let me look.", "I found one flat."]
    assert [r["status"] for r in (run.record() for run in turn.tools)] == ["ok"]
    assert turn.tools[0].at == len("Sure, let me look.")


async def test_parallel_calls_run_at_the_same_time_and_each_result_goes_back() -> None:
    both = asyncio.Event()
    started: list[str] = []

    @tool
    async def first(n: int) -> int:
        started.append("first")
        await both.wait()  # returns only once the second has started too
        return n * 10

    @tool
    def second(n: int) -> int:  # sync: runs in a worker thread
        started.append("second")
        return n + 1

    async def watch() -> None:
        await until(lambda: len(started) == 2, "both tools to start")
        both.set()

    a, b = call_pieces(0, "a", "first", '{"n": 1}'), call_pieces(1, "b", "second", '{"n": 2}')
    interleaved = [x for pair in zip(a, b, strict=False) for x in pair] + a[len(b) :] + b[len(a) :]
    turn, emitted, llm = turn_of([interleaved, ["Done."]], first, second)
    watcher = asyncio.create_task(watch())
    await turn.run()
    await watcher
    assert turn.text == "Done." and told(llm) == [10, 3]
    assert [e.call_id for e in emitted if isinstance(e, ToolCall)] == ["a", "b"]
    assert sorted(e.call_id for e in emitted if isinstance(e, ToolResult)) == ["a", "b"]
    calls = llm.seen[1][0][-3]
    assert [c.name for c in calls.tool_calls] == ["first", "second"]


async def test_a_reply_may_call_tools_in_several_steps() -> None:
    @tool
    def step(n: int) -> int:
        return n

    steps: list[Step] = [
        call_pieces(0, "s1", "step", '{"n": 1}'),
        call_pieces(0, "s2", "step", '{"n": 2}'),
        ["Two steps."],
    ]
    turn, _, llm = turn_of(steps, step)
    await turn.run()
    assert turn.text == "Two steps." and [r.call.id for r in turn.tools] == ["s1", "s2"]
    assert told(llm, 2) == [1, 2]


async def test_a_tool_yields_data_items_for_the_client_and_its_last_yield_is_the_result() -> None:
    @tool
    async def cards(city: str) -> Any:
        yield DataItem("propertyData", [{"id": 1, "city": city}])
        yield {"count": 1}

    turn, emitted, llm = turn_of(
        [call_pieces(0, "c", "cards", '{"city": "Bern"}'), ["One."]], cards
    )
    await turn.run()
    assert turn.data == [DataItem("propertyData", [{"id": 1, "city": "Bern"}])]
    assert told(llm) == [{"count": 1}]
    result = next(e for e in emitted if isinstance(e, ToolResult))
    assert result.result is None  # not marked visible: the client is not sent the result


async def test_what_the_model_said_before_a_call_is_spoken_while_the_tool_runs() -> None:
    emitted: list[Outgoing] = []

    @tool
    async def slow() -> str:
        await until(lambda: any(isinstance(e, SegmentEnd) for e in emitted), "a spoken segment")
        return "sunny"

    turn, emitted, _ = turn_of(
        [["One moment.", *call_pieces(0, "w", "slow", "{}")], ["It is sunny."]],
        slow,
        bridge="Let me check.",
        bridge_after_s=0.0,
    )
    await turn.run()
    # The model's own words were its bridge: no second one.
    assert turn.text == "One moment.It is sunny." and bridges(emitted) == 0


def bridges(emitted: list[Outgoing]) -> int:
    return sum("Let me check." in e.text for e in emitted if isinstance(e, TextDelta))


async def test_a_slow_tool_gets_a_spoken_bridge_with_its_segment_and_word_timings() -> None:
    release = asyncio.Event()

    @tool
    async def slow() -> str:
        await release.wait()
        return "sunny"

    turn, emitted, _ = turn_of(
        [call_pieces(0, "w", "slow", "{}"), ["It is sunny."]],
        slow,
        bridge="Let me check.",
        bridge_after_s=0.01,
    )
    task = asyncio.create_task(turn.run())
    await until(lambda: any(isinstance(e, SegmentEnd) for e in emitted), "a spoken segment")
    release.set()
    await task
    assert turn.text == "Let me check. It is sunny." and bridges(emitted) == 1
    start = next(e for e in emitted if isinstance(e, SegmentStart))
    end = next(e for e in emitted if isinstance(e, SegmentEnd))
    assert start.text == "Let me check. " or start.text == "Let me check."
    assert [w.text for w in end.words] == ["Let", "me", "check."]


async def test_a_bridge_is_never_said_twice_in_a_row() -> None:
    @tool
    async def slow(n: int) -> int:
        await asyncio.sleep(0.05)
        return n

    steps: list[Step] = [
        call_pieces(0, "1", "slow", '{"n": 1}'),
        call_pieces(0, "2", "slow", '{"n": 2}'),
        ["Done."],
    ]
    turn, emitted, _ = turn_of(steps, slow, bridge="Let me check.", bridge_after_s=0.0)
    await turn.run()
    assert bridges(emitted) == 1 and turn.text == "Let me check. Done."


def erroring_turn(steps: list[Step], *tools: Any, **settings: Any) -> Callable[[], Any]:
    turn, emitted, llm = turn_of(steps, *tools, **settings)

    async def run() -> tuple[Turn, list[Outgoing], ScriptedToolLLM]:
        await turn.run()
        return turn, emitted, llm

    return run


async def test_a_tool_that_raises_is_told_to_the_model_and_the_turn_goes_on() -> None:
    @tool
    def broken(city: str) -> str:
        raise RuntimeError("listing service down")

    steps: list[Step] = [
        call_pieces(0, "x", "broken", '{"city": "Bern"}'),
        ["Sorry, I could not look that up."],
    ]
    turn, emitted, llm = await erroring_turn(steps, broken)()
    assert turn.status == "complete" and turn.text == "Sorry, I could not look that up."
    assert told(llm) == [{"error": "broken failed: RuntimeError: listing service down"}]
    assert next(e for e in emitted if isinstance(e, ToolResult)).status == "error"


async def test_a_tool_that_times_out_is_abandoned_and_the_model_told() -> None:
    @tool(timeout_s=0.01)
    async def stuck() -> str:
        await asyncio.Event().wait()
        return "never"

    turn, emitted, llm = await erroring_turn(
        [call_pieces(0, "t", "stuck", ""), ["It did not answer."]], stuck
    )()
    assert turn.status == "complete" and told(llm) == [
        {"error": "stuck did not answer within 0.01 s"}
    ]
    assert next(e for e in emitted if isinstance(e, ToolResult)).status == "timeout"


async def test_a_tool_name_the_model_invents_is_a_clear_error_back_to_the_model() -> None:
    steps: list[Step] = [
        call_pieces(0, "i", "book_flight", '{"to": "Rome"}'),
        ["I cannot book flights."],
    ]
    turn, _, llm = await erroring_turn(steps, search_properties)()
    assert turn.status == "complete" and turn.text == "I cannot book flights."
    error = told(llm)[0]["error"]
    assert "book_flight" in error and "search_properties" in error


async def test_arguments_that_do_not_fit_the_tool_say_which_field_is_wrong() -> None:
    steps: list[Step] = [call_pieces(0, "v", "search_properties", '{"city": 3, "x": 1}'), ["Hm."]]
    _, _, llm = await erroring_turn(steps, search_properties)()
    error = told(llm)[0]["error"]
    assert (
        error.startswith("invalid arguments for search_properties")
        and "city" in error
        and "x" in error
    )


async def test_a_cancel_during_a_tool_call_cancels_its_task_and_discards_its_result() -> None:
    running, cancelled = asyncio.Event(), asyncio.Event()

    @tool
    async def forever() -> str:
        running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    turn, emitted, llm = turn_of([call_pieces(0, "f", "forever", "{}"), ["Never said."]], forever)
    task = asyncio.create_task(turn.run())
    await running.wait()
    task.cancel()
    await asyncio.wait({task})
    assert cancelled.is_set() and turn.status == "interrupted"
    assert not any(isinstance(e, ToolResult) for e in emitted) and len(llm.seen) == 1
    assert turn.tools[0].record()["status"] == "cancelled"


async def test_an_llm_that_cannot_call_tools_answers_in_text() -> None:
    from voicewire.llm.base import ToolLLM
    from voicewire.llm.llamacpp import LlamaCppLLM
    from voicewire.llm.scripted import ScriptedLLM

    assert not hasattr(LlamaCppLLM, "stream_tools")  # the embedded SmolLM2 offers no tools
    llm = ScriptedLLM("Plain answer.", tokens_per_second=0, first_token_ms=0)
    assert not isinstance(llm, ToolLLM)
    context = TurnContext(text="q", history=ASK, llm=llm, tools=Toolbox.of([search_properties]))
    items = [item async for item in context.reply()]
    assert "".join(str(i) for i in items) == "Plain answer."


async def test_after_max_steps_the_model_is_offered_no_tools_and_its_calls_are_not_run() -> None:
    ran: list[int] = []

    @tool
    def again(n: int) -> int:
        ran.append(n)
        return n

    # A model that keeps calling: every step is a call.
    turn, _, llm = turn_of([call_pieces(0, "a", "again", '{"n": 1}')], again, max_steps=2)
    await turn.run()
    assert turn.status == "complete" and ran == [1, 1]
    assert [len(tools) for _, tools in llm.seen] == [1, 1, 0]


async def test_a_failure_of_the_runner_itself_ends_the_call_as_an_error_not_a_hang(
    monkeypatch: Any,
) -> None:
    async def broken(*args: Any) -> None:
        raise RuntimeError("a bug in the runner")

    monkeypatch.setattr("voicewire.tools.loop.execute", broken)
    turn, emitted, llm = turn_of(
        [call_pieces(0, "b", "search_properties", "{}"), ["Sorry."]], search_properties
    )
    await turn.run()
    assert turn.text == "Sorry." and told(llm) == [{"error": "the tool could not be run"}]
    assert next(e for e in emitted if isinstance(e, ToolResult)).status == "error"


async def test_parallel_calls_a_server_streams_all_at_index_0_stay_separate_calls() -> None:
    # Ollama streams every call of a parallel batch with index 0 (each with its own id).
    found.clear()
    steps: list[Step] = [
        [
            *call_pieces(0, "call_a", "search_properties", '{"city": "Bern"}'),
            *call_pieces(0, "call_b", "search_properties", '{"city": "Genf"}'),
        ],
        ["Two cities."],
    ]
    turn, _, _ = turn_of(steps, search_properties)
    await turn.run()
    assert [(r.call.id, r.call.name, r.status) for r in turn.tools] == [
        ("call_a", "search_properties", "ok"),
        ("call_b", "search_properties", "ok"),
    ]
    assert sorted(f["city"] for f in found) == ["Bern", "Genf"]
