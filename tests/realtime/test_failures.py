"""`/v1/realtime` when things go wrong: the LLM fails (a `failed` response, the session goes
on), and a client floods events (rate_limited, then the socket closes)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator, Sequence
from typing import Any

import pytest
from openai import AsyncOpenAI
from websockets.exceptions import ConnectionClosedError

from tests.conftest import serve
from tests.realtime.test_sdk import ask, until
from voicewire.config import Settings
from voicewire.llm.base import ChatMessage, LLMError
from voicewire.protocol.errors import CloseCode
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS


class BrokenLLM:
    """Says a few words, then its backend fails."""

    name = "broken"

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        yield "Sure, I can"
        raise LLMError("the backend went away")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(
        llm="scripted",
        tts="fake",
        data_dir=tmp_path_factory.mktemp("data"),
        max_messages_per_second=5,
    )
    with serve(create_app(settings, llm=BrokenLLM(), tts=FakeToneTTS())) as url:
        yield url


async def test_a_failing_llm_ends_the_response_failed_and_the_session_goes_on(base: str) -> None:
    client = AsyncOpenAI(base_url=base + "/v1", api_key="guest")
    async with client.realtime.connect(model="voicewire") as conn:
        await conn.recv()
        for _ in range(2):  # the second response shows the session still answers
            await ask(conn, "Tell me about the flat")
            events = await until(conn, "response.done")
            errors = [e.error for e in events if e.type == "error"]
            assert [(e.type, e.code) for e in errors] == [("server_error", "llm_failed")]
            done = events[-1].response
            assert done.status == "failed"
            assert done.status_details.error.code == "llm_failed"
            assert done.output[0].content[0].transcript == "Sure, I can"


async def test_a_flood_of_events_is_rate_limited_and_closed(base: str) -> None:
    client = AsyncOpenAI(base_url=base + "/v1", api_key="guest")
    async with client.realtime.connect(model="voicewire") as conn:
        await conn.recv()
        for i in range(10):
            await conn.conversation.item.retrieve(item_id=f"item_{i}")
        events: list[Any] = []
        with pytest.raises(ConnectionClosedError) as closed:
            async for event in conn:  # until the server closes
                events.append(event)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.RATE_LIMITED
    codes = [e.error.code for e in events if e.type == "error"]
    assert codes[-1] == "rate_limited"
    assert codes.count("rate_limited") == 1
