"""`/v1/realtime` identity and storage: the API key is a voicewire token (Bearer, or the
browser's subprotocol answered with `realtime`), guests only where `/ws` takes them, and the
conversation — cut by a truncate — is in the owner's history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import serve
from tests.realtime.test_sdk import REPLY, RecordingLLM, ask, audio_of, until
from tests.waiting import until as poll
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.server.app import create_app
from voicewire.server.auth import Identity, TokenSigner
from voicewire.tts.fake import FakeToneTTS

SECRET = "realtime-test-secret-0123456789"
ALICE = TokenSigner(SECRET.encode()).sign(Identity("user", "alice"))


LLM = RecordingLLM(ScriptedLLM(REPLY, tokens_per_second=40, first_token_ms=5))


def server(tmp_path: Any, **overrides: Any) -> Any:
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path, secret=SECRET, **overrides)
    return serve(create_app(settings, llm=LLM, tts=FakeToneTTS()))


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with server(tmp_path_factory.mktemp("data"), require_token=True) as url:
        yield url


async def test_a_truncated_reply_is_stored_as_heard_in_the_users_history(base: str) -> None:
    client = AsyncOpenAI(base_url=base + "/v1", api_key=ALICE)
    async with client.realtime.connect(model="voicewire") as conn:
        await conn.recv()
        await ask(conn, "Tell me about the flat")
        events = await until(conn, "response.done")
        item_id = events[-1].response.output[0].id
        assert len(audio_of(events)) > 0
        await conn.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=700)
        await until(conn, "conversation.item.truncated")
    auth = {"Authorization": f"Bearer {ALICE}"}
    async with httpx.AsyncClient(base_url=base, headers=auth) as http:
        conversations = (await http.get("/api/conversations")).json()
        assert len(conversations) == 1
        path = f"/api/conversations/{conversations[0]['id']}/messages"

        async def stored() -> list[Any] | None:
            messages = (await http.get(path)).json()
            done = messages and messages[-1]["status"] == "interrupted"
            return messages if done else None

        messages = await poll(stored, "the cut reply stored")
    assert [(m["role"], m["text"]) for m in messages] == [
        ("user", "Tell me about the flat"),
        ("assistant", "Sure, I can help"),
    ]
    assert messages[-1]["played_ms"] == 700

    # The stored conversation continues on a new connection: its items, then the new question,
    # the session's instructions first.
    client = AsyncOpenAI(base_url=base + "/v1", api_key=ALICE)
    conversation = {"conversation": conversations[0]["id"]}
    async with client.realtime.connect(model="voicewire", extra_query=conversation) as conn:
        await conn.recv()
        await conn.session.update(session={"type": "realtime", "instructions": "Be brief."})
        await until(conn, "session.updated")
        await ask(conn, "And the price?")
        await until(conn, "response.done")
    assert [(m.role, m.content) for m in LLM.seen[-1]] == [
        ("system", "Be brief."),
        ("user", "Tell me about the flat"),
        ("assistant", "Sure, I can help"),
        ("user", "And the price?"),
    ]


async def test_a_browser_passes_its_key_in_a_subprotocol_and_gets_realtime(base: str) -> None:
    url = base.replace("http", "ws") + "/v1/realtime?model=voicewire"
    protocols: Any = ["realtime", f"openai-insecure-api-key.{ALICE}"]
    async with connect(url, subprotocols=protocols) as ws:
        assert ws.subprotocol == "realtime"
        assert json.loads(await ws.recv())["type"] == "session.created"


async def test_a_server_that_requires_tokens_refuses_a_wrong_key_and_a_guest(base: str) -> None:
    for key in ("not-a-token", "guest"):
        client = AsyncOpenAI(base_url=base + "/v1", api_key=key)
        with pytest.raises(InvalidStatus) as refused:
            async with client.realtime.connect(model="voicewire"):
                pass
        assert refused.value.response.status_code == 403


async def test_a_guest_is_served_where_guests_are_allowed_and_measured(tmp_path: Any) -> None:
    with server(tmp_path) as url:
        client = AsyncOpenAI(base_url=url + "/v1", api_key="guest")
        async with client.realtime.connect(model="voicewire") as conn:
            assert (await conn.recv()).type == "session.created"
            await ask(conn, "Tell me about the flat")
            assert (await until(conn, "response.done"))[-1].response.status == "completed"
        async with httpx.AsyncClient(base_url=url) as http:
            metrics = (await http.get("/metrics")).text
    # The same metrics as /ws: time to first text and audio, turns by status.
    assert "voicewire_ttfa_seconds_count 1.0" in metrics
    assert "voicewire_ttft_seconds_count 1.0" in metrics
    assert 'voicewire_turns_total{status="complete"} 1.0' in metrics


async def test_a_page_of_another_origin_is_refused(base: str) -> None:
    url = base.replace("http", "ws") + "/v1/realtime"
    headers = {"Authorization": f"Bearer {ALICE}", "Origin": "https://evil.example"}
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, additional_headers=headers):
            pass
    assert refused.value.response.status_code == 403
