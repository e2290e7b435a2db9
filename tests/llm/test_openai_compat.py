"""OpenAILLM against fake_openai_server: a small Starlette app under uvicorn on a real socket."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from voicewire.llm.base import ChatMessage, LLMError
from voicewire.llm.openai_compat import OpenAILLM

KEY = "sk-test-not-a-real-key-123"
DELTAS = ["Hel", "lo", " there", ", friend."]
HELLO = [ChatMessage("user", "Say hello.")]


@dataclass
class FakeOpenAIServer:
    base_url: str
    requests: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)


def sse(event: object) -> str:
    return f"data: {json.dumps(event)}\n\n"


def fake_openai_app(record: FakeOpenAIServer) -> Starlette:
    """Pretends to be /v1/chat/completions; the requested `model` picks the behaviour."""

    async def chat(request: Request) -> Response:
        body = await request.json()
        record.requests.append((dict(request.headers), body))
        model = body["model"]
        if model == "broken":
            auth = request.headers.get("authorization", "")
            error = {"error": {"message": f"Internal failure for {auth}", "type": "server"}}
            return JSONResponse(error, status_code=500)

        async def events() -> AsyncIterator[str]:
            yield ": keep-alive\n\n"
            yield sse({"choices": [{"delta": {"role": "assistant"}}]})
            for text in DELTAS:
                if model == "slow":
                    await asyncio.sleep(0.5)
                yield sse({"choices": [{"delta": {"content": text}}]})
                await asyncio.sleep(0.01)  # separate network writes, like a real server
            if model == "garbage":
                yield "data: {not json\n\n"
            yield sse({"choices": [], "usage": {"completion_tokens": 4}})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


@pytest.fixture(scope="module")
def fake_openai_server() -> Iterator[FakeOpenAIServer]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    record = FakeOpenAIServer(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}/v1")
    config = uvicorn.Config(
        fake_openai_app(record),
        loop="asyncio",
        http="h11",
        ws="none",
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    assert server.started, "fake_openai_server did not start"
    yield record
    server.should_exit = True
    thread.join(5)
    sock.close()


@pytest.fixture
async def make_llm(fake_openai_server: FakeOpenAIServer) -> AsyncIterator[Any]:
    made: list[OpenAILLM] = []

    def make(model: str = "echo", **kwargs: Any) -> OpenAILLM:
        kwargs.setdefault("api_key", KEY)
        made.append(OpenAILLM(fake_openai_server.base_url, model, **kwargs))
        return made[-1]

    yield make
    for llm in made:
        await llm.aclose()


async def test_deltas_arrive_in_order_over_a_real_socket(make_llm: Any) -> None:
    assert [d async for d in make_llm().stream(HELLO)] == DELTAS


async def test_the_request_is_a_streaming_chat_completion_with_the_bearer_key(
    make_llm: Any, fake_openai_server: FakeOpenAIServer
) -> None:
    [_ async for _ in make_llm(max_tokens=32, temperature=0.1).stream(HELLO)]
    headers, body = fake_openai_server.requests[-1]
    assert headers["authorization"] == f"Bearer {KEY}"
    assert body == {
        "model": "echo",
        "messages": [{"role": "user", "content": "Say hello."}],
        "stream": True,
        "max_tokens": 32,
        "temperature": 0.1,
    }


async def test_a_configured_system_prompt_leads_the_messages(
    make_llm: Any, fake_openai_server: FakeOpenAIServer
) -> None:
    [_ async for _ in make_llm(system_prompt="Be brief.").stream(HELLO)]
    messages = fake_openai_server.requests[-1][1]["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief."}


async def test_without_a_key_no_authorization_header_is_sent(
    make_llm: Any, fake_openai_server: FakeOpenAIServer
) -> None:
    [_ async for _ in make_llm(api_key=None).stream(HELLO)]
    assert "authorization" not in fake_openai_server.requests[-1][0]


async def test_a_500_is_an_llm_error_with_the_status_but_never_the_key(make_llm: Any) -> None:
    with pytest.raises(LLMError) as caught:
        [_ async for _ in make_llm("broken").stream(HELLO)]
    assert "500" in str(caught.value)
    assert "Internal failure" in str(caught.value)
    assert KEY not in str(caught.value)


async def test_bad_json_in_the_stream_is_an_llm_error(make_llm: Any) -> None:
    received: list[str] = []
    with pytest.raises(LLMError, match="bad JSON"):
        async for delta in make_llm("garbage").stream(HELLO):
            received.append(delta)
    assert received == DELTAS


async def test_a_silent_server_is_an_llm_error_after_the_timeout(make_llm: Any) -> None:
    with pytest.raises(LLMError, match=r"timed out after 0\.1s"):
        [_ async for _ in make_llm("slow", timeout=0.1).stream(HELLO)]


async def test_closing_the_stream_early_leaves_the_client_usable(make_llm: Any) -> None:
    llm = make_llm()
    stream = llm.stream(HELLO)
    assert await anext(stream) == "Hel"
    await stream.aclose()
    assert [d async for d in llm.stream(HELLO)] == DELTAS


async def test_an_unreachable_server_is_an_llm_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    llm = OpenAILLM("http://nowhere/v1", "m", KEY, transport=httpx.MockTransport(refuse))
    try:
        with pytest.raises(LLMError, match="ConnectError"):
            [_ async for _ in llm.stream(HELLO)]
    finally:
        await llm.aclose()
