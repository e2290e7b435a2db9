"""A reply's tool calls as OpenAI messages, and a stored conversation resumed with them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import serve
from tests.server.test_persistence import wait_for_messages, ws_url
from tests.waiting import until
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.llm.base import ChatMessage, ToolCallRequest
from voicewire.llm.scripted import ScriptedToolLLM, call_pieces
from voicewire.server.app import create_app
from voicewire.tools import tool
from voicewire.tools.history import reply_messages, whole
from voicewire.tts.fake import FakeToneTTS


def call(id: str, at: int, status: str = "ok", content: str = "[1]") -> dict[str, Any]:
    return {
        "id": id,
        "name": "find",
        "arguments": "{}",
        "status": status,
        "content": content,
        "at": at,
    }


def test_a_reply_with_calls_becomes_assistant_tool_calls_then_results_then_the_answer() -> None:
    text = "Let me look. Two flats match."
    assert reply_messages(text, [call("a", 13), call("b", 13, content="[2]")]) == [
        ChatMessage(
            "assistant",
            "Let me look. ",
            tool_calls=(ToolCallRequest("a", "find", "{}"), ToolCallRequest("b", "find", "{}")),
        ),
        ChatMessage("tool", "[1]", tool_call_id="a"),
        ChatMessage("tool", "[2]", tool_call_id="b"),
        ChatMessage("assistant", "Two flats match."),
    ]


def test_calls_in_two_steps_are_two_assistant_messages_and_a_cancelled_one_says_so() -> None:
    messages = reply_messages("Found one.", [call("a", 0), call("b", 10, status="cancelled")])
    assert [(m.role, m.content, [c.id for c in m.tool_calls]) for m in messages] == [
        ("assistant", "", ["a"]),
        ("tool", "[1]", []),
        ("assistant", "Found one.", ["b"]),
        ("tool", '{"error": "cancelled: the user interrupted before the result came"}', []),
    ]


def test_a_call_the_client_ran_says_its_output_was_not_kept() -> None:
    [_, result] = reply_messages("", [call("c", 0, status="client", content="")])
    assert result.role == "tool" and "not kept" in result.content


def test_a_call_placed_beyond_the_heard_text_stays_at_its_end() -> None:
    messages = reply_messages("Sure", [call("a", 40)])
    assert [m.role for m in messages] == ["assistant", "tool"] and messages[0].content == "Sure"


def test_a_history_cut_by_its_bound_does_not_start_with_orphan_results() -> None:
    cut = [ChatMessage("tool", "[1]", tool_call_id="a"), ChatMessage("user", "hi")]
    assert whole(cut) == [ChatMessage("user", "hi")]


@tool
def find(city: str) -> list[int]:
    return [1, 2]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ScriptedToolLLM]]:
    llm = ScriptedToolLLM(
        [["Sure.", *call_pieces(0, "call_f", "find", '{"city": "Bern"}')], ["Two."]]
    )
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path_factory.mktemp("data"))
    app = create_app(settings, llm=llm, tts=FakeToneTTS(), tools=[find])  # a list, as in the docs
    with serve(app) as base:
        yield base, llm


async def test_a_resumed_conversation_gives_the_model_its_earlier_tool_calls(
    served: tuple[str, ScriptedToolLLM],
) -> None:
    base, llm = served
    async with Client(ws_url(base)) as c:
        assert c.ready is not None and c.ready.guest_token and c.ready.conversation_id
        token, conversation = c.ready.guest_token, c.ready.conversation_id
        await c.ask("Flats in Bern?", voice=False)
    stored = await wait_for_messages(base, conversation, token, lambda m: len(m) == 2)
    assert stored[1]["tools"] == [
        {
            "id": "call_f",
            "name": "find",
            "arguments": '{"city": "Bern"}',
            "status": "ok",
            "at": len("Sure."),
            "visible": False,  # what it returned is kept for the model, not shown
        }
    ]
    llm.seen.clear()
    async with Client(ws_url(base, token=token, conversation=conversation)) as c:
        await c.ask("And cheaper?", voice=False)
    await until(lambda: llm.seen, "the model's request")
    messages = llm.seen[0][0]
    assert messages == [
        ChatMessage("user", "Flats in Bern?"),
        ChatMessage(
            "assistant",
            "Sure.",
            tool_calls=(ToolCallRequest("call_f", "find", '{"city": "Bern"}'),),
        ),
        ChatMessage("tool", "[1, 2]", tool_call_id="call_f"),
        ChatMessage("assistant", "Two."),
        ChatMessage("user", "And cheaper?"),
    ]
