"""`/v1/realtime` function tools with the real `openai` SDK: the client declares a function, the
model calls it, the client sends its output, and the next response speaks it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from tests.conftest import serve
from tests.realtime.test_sdk import ask, client, until
from voicewire.config import Settings
from voicewire.llm.base import ChatMessage
from voicewire.llm.scripted import ScriptedToolLLM, Step, call_pieces
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather now in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def say_the_output(messages: Sequence[ChatMessage]) -> Step:
    """The model's answer once the function's output is in: it says what it returned."""
    output = json.loads(next(m.content for m in reversed(messages) if m.role == "tool"))
    return [f"It is {output['celsius']} degrees and {output['sky']} in Paris."]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ScriptedToolLLM]]:
    llm = ScriptedToolLLM(
        [call_pieces(0, "call_w1", "get_weather", '{"city": "Paris"}', size=4), say_the_output]
    )
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path_factory.mktemp("data"))
    with serve(create_app(settings, llm=llm, tts=FakeToneTTS())) as base:
        yield base, llm


async def test_a_declared_function_is_called_and_its_output_is_spoken_next(
    served: tuple[str, ScriptedToolLLM],
) -> None:
    base, llm = served
    async with client(base).realtime.connect(model="voicewire") as conn:
        await conn.recv()  # session.created
        await conn.session.update(
            session={"type": "realtime", "tools": [WEATHER], "tool_choice": "auto"}
        )
        updated = await until(conn, "session.updated")
        assert updated[-1].session.tools[0].name == "get_weather"
        await ask(conn, "What's the weather in Paris?")
        events = await until(conn, "response.done")
        types = [e.type for e in events]
        added = next(e for e in events if e.type == "response.output_item.added")
        assert added.item.type == "function_call" and added.item.name == "get_weather"
        deltas = "".join(
            e.delta for e in events if e.type == "response.function_call_arguments.delta"
        )
        (done,) = [e for e in events if e.type == "response.function_call_arguments.done"]
        assert json.loads(deltas) == json.loads(done.arguments) == {"city": "Paris"}
        assert done.call_id == "call_w1" and done.name == "get_weather"
        assert "response.output_audio_transcript.delta" not in types  # nothing was said
        (call,) = events[-1].response.output
        assert (call.type, call.call_id, call.status) == ("function_call", "call_w1", "completed")
        # The model saw the function offered in chat-completions form.
        tools: list[dict[str, Any]] = llm.seen[-1][1]
        assert tools[0]["function"]["name"] == "get_weather"

        await conn.conversation.item.create(
            item={
                "type": "function_call_output",
                "call_id": "call_w1",
                "output": json.dumps({"celsius": 21, "sky": "sunny"}),
            }
        )
        await conn.response.create()
        events = await until(conn, "response.done")
    transcript = "".join(
        e.delta for e in events if e.type == "response.output_audio_transcript.delta"
    )
    assert transcript == "It is 21 degrees and sunny in Paris."
    assert events[-1].response.status == "completed"
    messages = llm.seen[-1][0]
    assert [m.role for m in messages][-3:] == ["user", "assistant", "tool"]
    assert messages[-2].tool_calls[0].id == "call_w1"
    assert messages[-1].tool_call_id == "call_w1"


async def test_without_declared_functions_the_model_is_offered_none(
    served: tuple[str, ScriptedToolLLM],
) -> None:
    base, llm = served
    asked = len(llm.seen)
    async with client(base).realtime.connect(model="voicewire") as conn:
        await conn.recv()
        await ask(conn, "hello")
        events = await until(conn, "response.done")
    assert len(llm.seen) == asked  # answered by plain streaming: no tools in the request
    assert [o.type for o in events[-1].response.output] == ["message"]


async def test_words_before_a_call_are_a_message_item_and_the_call_the_next_output(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    call = call_pieces(0, "call_w2", "get_weather", '{"city": "Rome"}')
    llm = ScriptedToolLLM([["Let me see.", *call], say_the_output])
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path_factory.mktemp("data"))
    with serve(create_app(settings, llm=llm, tts=FakeToneTTS())) as base:
        async with client(base).realtime.connect(model="voicewire") as conn:
            await conn.recv()
            await conn.session.update(session={"type": "realtime", "tools": [WEATHER]})
            await until(conn, "session.updated")
            await ask(conn, "Weather in Rome?")
            events = await until(conn, "response.done")
    added = [e for e in events if e.type == "response.output_item.added"]
    assert [(e.output_index, e.item.type) for e in added] == [(0, "message"), (1, "function_call")]
    output = events[-1].response.output
    assert [o.type for o in output] == ["message", "function_call"]
    assert output[0].content[0].transcript == "Let me see."


async def test_a_function_output_for_a_call_the_conversation_does_not_have_is_refused(
    served: tuple[str, ScriptedToolLLM],
) -> None:
    base, _ = served
    async with client(base).realtime.connect(model="voicewire") as conn:
        await conn.recv()  # session.created
        await conn.conversation.item.create(
            item={"type": "function_call_output", "call_id": "call_nope", "output": "{}"}
        )
        async with asyncio.timeout(20):  # a guard: on failure no error comes
            events = await until(conn, "error")
    assert "conversation.item.added" not in [e.type for e in events]
    error = events[-1].error
    assert error.param == "item.call_id" and "call_nope" in error.message


async def test_a_call_is_handed_to_the_client_only_once_the_words_before_it_are_spoken(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # @openai/agents-realtime runs the function at the call's output_item.done and sends
    # response.create at once: the response must be over by then, or it is refused as busy.
    call = call_pieces(0, "call_w3", "get_weather", '{"city": "Oslo"}')
    llm = ScriptedToolLLM([["Let me see what the sky does there.", *call]])
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path_factory.mktemp("data"))
    with serve(create_app(settings, llm=llm, tts=FakeToneTTS())) as base:
        async with client(base).realtime.connect(model="voicewire") as conn:
            await conn.recv()
            await conn.session.update(session={"type": "realtime", "tools": [WEATHER]})
            await until(conn, "session.updated")
            await ask(conn, "Weather in Oslo?")
            events = await until(conn, "response.done")
    kinds = [e.type for e in events]
    handed = next(
        i
        for i, e in enumerate(events)
        if e.type == "response.output_item.done" and e.item.type == "function_call"
    )
    last_audio = max(i for i, k in enumerate(kinds) if k == "response.output_audio.delta")
    message_done = next(
        i
        for i, e in enumerate(events)
        if e.type == "response.output_item.done" and e.item.type == "message"
    )
    assert last_audio < message_done < handed
    assert [o.type for o in events[-1].response.output] == ["message", "function_call"]
