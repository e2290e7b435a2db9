"""OpenAILLM's tool calls against a local OpenAI-compatible stand-in that replays SSE streams.

The streams in `streams/` are in the format OpenAI's /chat/completions sends: the first chunk
of a call has its id, type and name with empty arguments, later chunks add argument fragments,
and the last chunk's finish_reason is `tool_calls`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from tests.conftest import serve
from voicewire.llm.base import ChatMessage, ToolCallDelta
from voicewire.llm.openai_compat import OpenAILLM
from voicewire.responder import DataItem
from voicewire.tools import Toolbox, ToolFinished, ToolStarted, tool, tool_reply
from voicewire.tools.loop import CallAssembler

STREAMS = Path(__file__).parent / "streams"
ASK = [ChatMessage("user", "Flats in Zurich?")]
requests: list[dict[str, Any]] = []


def stand_in() -> FastAPI:
    """Replays `streams/<model>.sse`; once tool results are in the messages, `answer.sse`."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> StreamingResponse:
        body = await request.json()
        requests.append(body)
        name = "answer" if body["messages"][-1]["role"] == "tool" else body["model"]
        text = (STREAMS / f"{name}.sse").read_text()

        async def events() -> AsyncIterator[str]:
            for chunk in text.split("\n\n"):
                if chunk:
                    yield chunk + "\n\n"  # one network write per event, like a real server

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(stand_in()) as base:  # type: ignore[arg-type]
        yield base + "/v1"


@pytest.fixture
async def llm(base_url: str, request: pytest.FixtureRequest) -> AsyncIterator[OpenAILLM]:
    made = OpenAILLM(base_url, request.param, "sk-test")
    yield made
    await made.aclose()


searched: list[dict[str, Any]] = []


@tool(visible=True)
async def search_properties(city: str, bedrooms: int = 1, note: str = "") -> Any:
    """Find flats for rent."""
    searched.append({"city": city, "bedrooms": bedrooms, "note": note})
    yield DataItem("propertyData", [{"id": 1, "city": city}])
    yield [{"id": 1}]


@tool
def market_feed(city: str = "") -> dict[str, str]:
    """Rent trends."""
    return {"trend": "+2%"}


TOOLS = Toolbox.of([search_properties, market_feed], bridge=None)


async def calls_of(llm: OpenAILLM) -> tuple[str, list[Any]]:
    assembler, text = CallAssembler(), ""
    async for item in llm.stream_tools(ASK, TOOLS.schemas()):
        if isinstance(item, ToolCallDelta):
            assembler.add(item)
        else:
            text += item
    return text, assembler.calls()


@pytest.mark.parametrize("llm", ["single"], indirect=True)
async def test_a_single_call_is_assembled_from_its_streamed_pieces(llm: OpenAILLM) -> None:
    text, calls = await calls_of(llm)
    assert text == "" and [(c.id, c.name) for c in calls] == [("call_3kT9pQ", "search_properties")]
    assert json.loads(calls[0].arguments) == {"city": "Zurich", "bedrooms": 2}
    body = requests[-1]
    assert body["tools"] == TOOLS.schemas() and body["tool_choice"] == "auto"
    assert body["tools"][0]["function"]["parameters"]["required"] == ["city"]


@pytest.mark.parametrize("llm", ["parallel"], indirect=True)
async def test_parallel_calls_are_told_apart_by_their_index(llm: OpenAILLM) -> None:
    _, calls = await calls_of(llm)
    assert [(c.id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("call_a1", "search_properties", {"city": "Bern"}),
        ("call_b2", "market_feed", {"city": "Bern"}),
    ]


@pytest.mark.parametrize("llm", ["many"], indirect=True)
async def test_arguments_cut_into_one_character_chunks_are_joined_whole(llm: OpenAILLM) -> None:
    _, calls = await calls_of(llm)
    assert json.loads(calls[0].arguments) == {"city": "Zürich", "note": 'a "quiet" street'}


@pytest.mark.parametrize("llm", ["text_then_call"], indirect=True)
async def test_text_before_a_call_streams_as_text(llm: OpenAILLM) -> None:
    text, calls = await calls_of(llm)
    assert text == "Let me look." and [c.name for c in calls] == ["market_feed"]


@pytest.mark.parametrize("llm", ["parallel"], indirect=True)
async def test_the_results_go_back_in_openai_message_format_and_the_answer_streams(
    llm: OpenAILLM,
) -> None:
    searched.clear()
    items = [item async for item in tool_reply(llm, ASK, TOOLS)]
    text = "".join(i for i in items if isinstance(i, str))
    assert text == "Two flats match." and searched == [{"city": "Bern", "bedrooms": 1, "note": ""}]
    assert sum(isinstance(i, ToolStarted) for i in items) == 2
    assert sum(isinstance(i, ToolFinished) for i in items) == 2
    assert DataItem("propertyData", [{"id": 1, "city": "Bern"}]) in items
    messages = requests[-1]["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_a1",
                "type": "function",
                "function": {"name": "search_properties", "arguments": '{"city": "Bern"}'},
            },
            {
                "id": "call_b2",
                "type": "function",
                "function": {"name": "market_feed", "arguments": '{"city": "Bern"}'},
            },
        ],
    }
    results = {m["tool_call_id"]: json.loads(m["content"]) for m in messages[2:]}
    assert results == {"call_a1": [{"id": 1}], "call_b2": {"trend": "+2%"}}
    assert all(m["role"] == "tool" for m in messages[2:])


@pytest.mark.parametrize("llm", ["answer"], indirect=True)
async def test_without_tools_offered_the_request_names_none(llm: OpenAILLM) -> None:
    assert [d async for d in llm.stream(ASK)] == ["Two", " flats", " match."]
    assert "tools" not in requests[-1]
