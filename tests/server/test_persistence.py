"""Nothing is lost: what was said is stored, and only its owner can read it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import inherited_socket, serve, serve_process
from tests.storage.test_recorder import WRITES, slow_down
from tests.waiting import HANG_S, until
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.messages import Error, TextDelta, TurnEnd, TurnStart
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS

REPLY = "One two three four five six seven eight nine ten. " * 6


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("data")
    llm = ScriptedLLM(REPLY, tokens_per_second=20, first_token_ms=10)
    app = create_app(
        Settings(llm="scripted", tts="fake", data_dir=data), llm=llm, tts=FakeToneTTS()
    )
    with serve(app) as url:
        yield url


def ws_url(base: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return base.replace("http", "ws", 1) + "/ws" + (f"?{query}" if query else "")


def get(base: str, path: str, token: str) -> httpx.Response:
    return httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=HANG_S)


async def wait_for_messages(
    base: str, conversation: str, token: str, ready: Any
) -> list[dict[str, Any]]:
    """The conversation's messages once `ready(messages)`: they are stored in the background."""
    seen: list[dict[str, Any]] = []

    def stored() -> list[dict[str, Any]] | None:
        nonlocal seen
        seen = get(base, f"/api/conversations/{conversation}/messages", token).json()
        return seen if ready(seen) else None

    try:
        return await until(stored, f"the messages of conversation {conversation}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the last seen: {seen}") from None


async def test_a_complete_turn_is_stored_with_both_messages(base: str) -> None:
    async with Client(ws_url(base)) as c:
        assert c.ready is not None and c.ready.guest_token and c.ready.conversation_id
        token, conversation = c.ready.guest_token, c.ready.conversation_id
        result = await c.ask("count for me", voice=False)
    messages = await wait_for_messages(
        base, conversation, token, lambda m: len(m) == 2 and m[1]["status"] == "complete"
    )
    assert [(m["role"], m["text"], m["status"]) for m in messages] == [
        ("user", "count for me", "complete"),
        ("assistant", result.text, "complete"),
    ]


async def test_closing_the_socket_mid_reply_stores_the_reply_as_interrupted(base: str) -> None:
    async with Client(ws_url(base)) as c:
        assert c.ready is not None and c.ready.guest_token and c.ready.conversation_id
        token, conversation = c.ready.guest_token, c.ready.conversation_id
        await c.send("count for me")
        deltas = 0
        while deltas < 5:
            deltas += isinstance(await c.receive(), TextDelta)
    messages = await wait_for_messages(
        base, conversation, token, lambda m: len(m) == 2 and m[1]["status"] != "streaming"
    )
    assert messages[0]["text"] == "count for me"
    assert messages[1]["status"] == "interrupted"
    assert messages[1]["text"] and REPLY.startswith(messages[1]["text"])
    assert len(messages[1]["text"]) < len(REPLY)


async def test_user_a_cannot_list_or_read_user_bs_conversations(base: str) -> None:
    async with Client(ws_url(base)) as a, Client(ws_url(base)) as b:
        assert a.ready is not None and b.ready is not None
        await b.ask("my secret", voice=False)
        token_a, token_b = a.ready.guest_token, b.ready.guest_token
        assert token_a and token_b and b.ready.conversation_id
        b_conversation = b.ready.conversation_id
    listed = get(base, "/api/conversations", token_a).json()
    assert b_conversation not in [c["id"] for c in listed]
    assert get(base, f"/api/conversations/{b_conversation}/messages", token_a).status_code == 404
    assert get(base, f"/api/conversations/{b_conversation}/messages", token_b).status_code == 200
    assert get(base, "/api/conversations", "forged.token").status_code == 401
    # A's socket cannot attach to B's conversation either.
    with pytest.raises(InvalidStatus):
        async with connect(
            ws_url(base, token=token_a, conversation=b_conversation),
            subprotocols=["voicewire.v1"],  # type: ignore[list-item]
        ):
            pass


async def test_a_message_naming_another_users_id_changes_nothing(base: str) -> None:
    async with Client(ws_url(base)) as a, Client(ws_url(base)) as b:
        assert a.ready is not None and b.ready is not None
        token_a, token_b = a.ready.guest_token, b.ready.guest_token
        assert token_a and token_b and b.ready.conversation_id
        await a.send_json(
            {
                "type": "user.message",
                "id": "x",
                "text": "written by A",
                "voice": False,
                "usr_id": b.ready.session_id,
                "conversation_id": b.ready.conversation_id,
                "guest_id": "someone-else",
            }
        )
        await a.collect_turn()
        b_conversation = b.ready.conversation_id
    b_messages = get(base, f"/api/conversations/{b_conversation}/messages", token_b).json()
    assert all(m["text"] != "written by A" for m in b_messages)
    a_texts = [
        m["text"]
        for conv in get(base, "/api/conversations", token_a).json()
        for m in get(base, f"/api/conversations/{conv['id']}/messages", token_a).json()
    ]
    assert "written by A" in a_texts


async def test_reconnecting_with_token_and_conversation_continues_the_history(base: str) -> None:
    async with Client(ws_url(base)) as c:
        assert c.ready is not None and c.ready.guest_token and c.ready.conversation_id
        token, conversation = c.ready.guest_token, c.ready.conversation_id
        await c.ask("first", voice=False)
    async with Client(ws_url(base, token=token, conversation=conversation)) as c:
        assert c.ready is not None
        assert c.ready.conversation_id == conversation and c.ready.guest_token is None
        await c.ask("second", voice=False)
    messages = await wait_for_messages(base, conversation, token, lambda m: len(m) == 4)
    assert [m["text"] for m in messages if m["role"] == "user"] == ["first", "second"]


async def test_a_barge_in_on_a_slow_database_is_stored_after_the_reply_it_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 15, defect 6: with every write slower than the start gate's wait, the second
    # question was stored before the reply it interrupted.
    llm = ScriptedLLM(REPLY, tokens_per_second=50, first_token_ms=10)
    app = create_app(
        Settings(llm="scripted", tts="fake", data_dir=tmp_path), llm=llm, tts=FakeToneTTS()
    )
    with serve(app) as base:
        slow_down(app.state.services.store, monkeypatch, WRITES)
        async with Client(ws_url(base)) as c:
            assert c.ready is not None and c.ready.guest_token and c.ready.conversation_id
            token, conversation = c.ready.guest_token, c.ready.conversation_id
            await c.send("first", voice=False)
            deltas = 0
            while deltas < 2:
                deltas += isinstance(await c.receive(), TextDelta)
            await c.send("second", voice=False)
            second = await c.collect_turn()
        assert second.end is not None and second.end.status == "complete"
        messages = await wait_for_messages(
            base,
            conversation,
            token,
            lambda m: len(m) == 4 and all(x["status"] != "streaming" for x in m),
        )
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"),
        ("assistant", "interrupted"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert [messages[0]["text"], messages[2]["text"]] == ["first", "second"]
    assert REPLY.startswith(messages[1]["text"]) and messages[3]["text"] == second.text


async def test_a_cancel_past_the_played_ms_bound_is_refused_and_the_reply_still_stored(
    base: str,
) -> None:
    # Issue 15, defect 9: played_ms 2**63 was accepted, its reply then stayed `streaming`.
    error: Error | None = None
    async with Client(ws_url(base)) as c:
        assert c.ready is not None and c.ready.guest_token and c.ready.conversation_id
        token, conversation = c.ready.guest_token, c.ready.conversation_id
        await c.send("count for me", voice=False)
        while True:
            event = await c.receive()
            if isinstance(event, TurnStart):
                await c.cancel(event.turn_id, played_ms=2**63)
            elif isinstance(event, Error):
                error = event
            elif isinstance(event, TurnEnd):
                break
    assert error is not None and error.code == "invalid_message"
    assert event.status == "complete"  # the cancel was refused: the turn went on
    messages = await wait_for_messages(
        base, conversation, token, lambda m: len(m) == 2 and m[1]["status"] != "streaming"
    )
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ]


def start_server(sock: socket.socket, data: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VOICEWIRE_DATA_DIR": str(data),
        "VOICEWIRE_SCRIPTED_REPLY": REPLY,
        "VOICEWIRE_SCRIPTED_TPS": "5",
    }
    return serve_process(sock, env)


async def test_a_server_killed_mid_reply_leaves_the_reply_marked_failed(tmp_path: Path) -> None:
    sock = inherited_socket()  # held across the restart: the same port, never raced for
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    proc = start_server(sock, tmp_path)
    try:
        async with Client(ws_url(base)) as c:
            assert c.ready is not None and c.ready.guest_token and c.ready.conversation_id
            token, conversation = c.ready.guest_token, c.ready.conversation_id
            await c.send("count for me")
            deltas = 0
            while deltas < 3:
                deltas += isinstance(await c.receive(), TextDelta)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=HANG_S)
    except Exception:
        proc.kill()
        raise
    proc = start_server(sock, tmp_path)
    try:
        messages = get(base, f"/api/conversations/{conversation}/messages", token).json()
    finally:
        proc.terminate()
        proc.wait(timeout=HANG_S)
        sock.close()
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"),
        ("assistant", "failed"),
    ]
    assert messages[0]["text"] == "count for me"
