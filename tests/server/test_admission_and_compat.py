"""Admit, then write (defect 5), and the compat endpoint on the shared turn runner (defect 3)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import serve
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS

SUBPROTOCOL: Any = ["voicewire.v1"]
REPLY = "Sure. The flat has two bedrooms and a balcony, and it is close to the park."


def make_app(data: Path, llm: ScriptedLLM | None = None, **settings: Any) -> FastAPI:
    config = Settings(llm="scripted", tts="fake", data_dir=data, **settings)
    return create_app(config, llm=llm or ScriptedLLM(REPLY, first_token_ms=5), tts=FakeToneTTS())


def rows(data: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(data / "voicewire.db") as db:
        return db.execute(sql).fetchall()


async def frames_until_closed(ws: Any) -> tuple[list[dict[str, Any]], int | None]:
    frames = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
    except ConnectionClosed as closed:
        return frames, closed.rcvd.code if closed.rcvd else None


async def test_clients_refused_as_the_server_is_full_leave_no_rows(tmp_path: Path) -> None:
    with serve(make_app(tmp_path, max_connections=1)) as base:
        url = base.replace("http", "ws", 1)
        async with connect(url + "/ws", subprotocols=SUBPROTOCOL) as admitted:
            assert json.loads(await admitted.recv())["type"] == "session.ready"
            for endpoint in ("/ws", "/ws/voice-chat/") * 5:
                protocols = SUBPROTOCOL if endpoint == "/ws" else None
                async with connect(url + endpoint, subprotocols=protocols) as refused:
                    frames, code = await frames_until_closed(refused)
                assert frames[0]["code"] == "server_busy" and code == 1013
    assert len(rows(tmp_path, "select id from identities")) == 1
    assert len(rows(tmp_path, "select id from conversations")) == 1


async def test_two_queries_back_to_back_on_the_compat_endpoint_are_both_stored(
    tmp_path: Path,
) -> None:
    with serve(make_app(tmp_path)) as base:
        chat = base.replace("http", "ws", 1) + "/ws/voice-chat/"
        async with connect(chat) as ws:
            await ws.send(json.dumps({"usr_query": "first", "is_voice": False}))
            await ws.send(json.dumps({"usr_query": "second", "is_voice": False}))
            ends = []
            while len(ends) < 2:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if frame["type"] == "end":
                    ends.append(frame["status"])
    # The first reply was interrupted by the second query (and says so); both questions stay.
    assert ends == ["interrupted", "complete"]
    stored = rows(
        tmp_path, "select role, text from messages where role = 'user' order by created_at"
    )
    assert [text for _, text in stored] == ["first", "second"]


async def test_the_compat_endpoint_records_replies_under_its_node(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    with serve(app) as base:
        async with connect(base.replace("http", "ws", 1) + "/ws/voice-chat/") as ws:
            await ws.send(json.dumps({"usr_query": "hello", "is_voice": False}))
            while json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] != "end":
                pass
        node = app.state.services.hub.node
    # The server's shutdown drained its writes.
    assert rows(tmp_path, "select node from messages where role = 'assistant'") == [(node,)]


async def test_the_compat_endpoint_cuts_a_reply_at_max_reply_chars(tmp_path: Path) -> None:
    with serve(make_app(tmp_path, max_reply_chars=20)) as base:
        async with connect(base.replace("http", "ws", 1) + "/ws/voice-chat/") as ws:
            await ws.send(json.dumps({"usr_query": "hello", "is_voice": False}))
            frames = []
            while not frames or frames[-1]["type"] != "end":
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
    errors = [f for f in frames if f["type"] == "error"]
    assert errors and errors[0]["code"] == "reply_too_long"
    text = "".join(f.get("text", "") for f in frames if f["type"] == "text")
    assert 0 < len(text) <= 20


async def test_the_compat_endpoint_closes_a_client_over_the_message_rate_with_4008(
    tmp_path: Path,
) -> None:
    llm = ScriptedLLM(REPLY, first_token_ms=60_000)  # replies never get in the way
    with serve(make_app(tmp_path, llm, max_messages_per_second=3)) as base:
        async with connect(base.replace("http", "ws", 1) + "/ws/voice-chat/") as ws:
            for i in range(10):
                await ws.send(json.dumps({"usr_query": f"q{i}", "is_voice": False}))
            frames, code = await frames_until_closed(ws)
    assert code == 4008
    assert [f["code"] for f in frames if f["type"] == "error"][-1] == "rate_limited"
