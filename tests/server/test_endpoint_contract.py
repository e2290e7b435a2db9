"""One scenario through every endpoint adapter (`/ws`, `/ws/voice-chat/`, `/v1/realtime`): a
second question interrupts the reply to the first, and the store keeps both questions and both
replies, in order, the first `interrupted`. The turn logic is shared; this pins that it is."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI
from websockets.asyncio.client import connect

from tests.conftest import serve
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS

REPLY = "Sure. " + " ".join(f"word{i}" for i in range(40)) + "."
HANG_S = 120


async def over_ws(base: str) -> None:
    async with connect(base.replace("http", "ws", 1) + "/ws", subprotocols=["voicewire.v1"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "user.message", "id": "q1", "text": "first"}))
        while True:
            frame = await ws.recv()
            if isinstance(frame, str) and json.loads(frame)["type"] == "text.delta":
                break
        await ws.send(json.dumps({"type": "user.message", "id": "q2", "text": "second"}))
        while True:
            frame = await ws.recv()
            if isinstance(frame, str):
                event = json.loads(frame)
                if event["type"] == "turn.end" and event["turn_id"] == 2:
                    return


async def over_compat(base: str) -> None:
    async with connect(base.replace("http", "ws", 1) + "/ws/voice-chat/") as ws:
        await ws.send(json.dumps({"usr_query": "first"}))
        while json.loads(await ws.recv())["type"] != "voice":
            pass
        await ws.send(json.dumps({"usr_query": "second"}))
        ends = 0
        while ends < 2:
            ends += json.loads(await ws.recv())["type"] == "end"


async def over_realtime(base: str) -> None:
    client = AsyncOpenAI(base_url=base + "/v1", api_key="guest")
    async with client.realtime.connect(model="voicewire") as conn:

        async def ask(text: str) -> None:
            content = [{"type": "input_text", "text": text}]
            await conn.conversation.item.create(
                item={"type": "message", "role": "user", "content": content}
            )
            await conn.response.create()

        await ask("first")
        async for event in conn:
            if event.type == "response.output_audio.delta":
                break
        await conn.response.cancel()  # a Realtime client cancels before it asks again
        await ask("second")
        done = 0
        async for event in conn:
            done += event.type == "response.done"
            if done == 2:
                return


SCENARIOS: dict[str, Callable[[str], Awaitable[None]]] = {
    "ws": over_ws,
    "compat": over_compat,
    "realtime": over_realtime,
}


@pytest.mark.parametrize("endpoint", sorted(SCENARIOS))
async def test_a_second_question_interrupts_the_first_reply_and_both_are_stored_in_order(
    tmp_path: Path, endpoint: str
) -> None:
    llm = ScriptedLLM(REPLY, tokens_per_second=10, first_token_ms=5)
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path)
    with serve(create_app(settings, llm=llm, tts=FakeToneTTS())) as base:
        await asyncio.wait_for(SCENARIOS[endpoint](base), HANG_S)
    # The server's shutdown drained its writes.
    with sqlite3.connect(tmp_path / "voicewire.db") as db:
        rows: list[Any] = db.execute(
            "select role, text, status from messages order by created_at, id"
        ).fetchall()
    assert [(role, status) for role, _, status in rows] == [
        ("user", "complete"),
        ("assistant", "interrupted"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert [rows[0][1], rows[2][1]] == ["first", "second"]
    assert REPLY.startswith(rows[1][1]) and rows[1][1] != REPLY
    assert rows[3][1] == REPLY
