"""The session layer under unlucky interleavings: a client that stops reading, cancels that
cross a turn's end, settings changed mid-turn (issue: one owner for each session)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI

from tests.server.peer import Peer, connected, start
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.frames import CODEC_IDS, AudioFrame
from voicewire.protocol.session import Session
from voicewire.resume import CancelTurn, Control, Handoff, SessionState
from voicewire.resume.memory import MemoryHub
from voicewire.server.app import create_app
from voicewire.server.continuity import take_over
from voicewire.server.relay import Relay
from voicewire.storage import Store
from voicewire.tts.fake import FakeToneTTS

REPLY = "One two three four five."
TOKENS = 5  # ScriptedLLM cuts a token per word


def app_of(tmp_path: Path, llm: ScriptedLLM, **settings: Any) -> FastAPI:
    config = Settings(llm="scripted", tts="fake", data_dir=tmp_path, **settings)
    return create_app(config, llm=llm, tts=FakeToneTTS())


async def until(condition: Callable[[], bool]) -> None:
    """Wait, step by step of the event loop, for `condition` (no clock involved)."""
    for _ in range(100_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def settle_loop() -> None:
    """Let every task that is ready run until each waits on something outside the loop."""
    for _ in range(50):
        await asyncio.sleep(0)


@pytest.mark.parametrize("interrupt", ["turn.cancel", "user.message"])
async def test_a_finished_turn_waiting_on_a_full_queue_still_gets_its_turn_end_when_interrupted(
    tmp_path: Path, interrupt: str
) -> None:
    # The text-only turn is start, 5 deltas, end. The stalled writer holds turn.start; the
    # queue (5) fills with the deltas, so the turn, done generating, waits to queue its end.
    llm = ScriptedLLM(REPLY, tokens_per_second=0, first_token_ms=0)
    app = app_of(tmp_path, llm, send_queue_frames=TOKENS, send_timeout_s=600)
    peer = Peer()
    async with connected(app, peer) as (conn, _):
        await peer.wait_for("session.ready")
        peer.flowing.clear()
        peer.say(type="user.message", id="m1", text="count", voice=False)
        await until(lambda: len(conn.out.items) >= TOKENS)
        await settle_loop()  # the turn reaches its end and waits for room in the queue
        if interrupt == "turn.cancel":
            peer.say(type="turn.cancel", turn_id=1)
        else:
            peer.say(type="user.message", id="m2", text="again", voice=False)
        await settle_loop()
        peer.flowing.set()
        end = await asyncio.wait_for(peer.wait_for("turn.end", turn_id=1), 30)
        if interrupt == "user.message":
            await asyncio.wait_for(peer.wait_for("turn.end", turn_id=2), 30)
    assert end["status"] in ("complete", "interrupted")
    kinds = [e["type"] for e in peer.of_turn(1) if isinstance(e, dict)]
    assert kinds[0] == "turn.start" and kinds[-1] == "turn.end" and kinds.count("turn.end") == 1


async def test_a_cancel_from_another_connection_during_the_start_gate_still_stores_the_reply(
    tmp_path: Path,
) -> None:
    # The user message's commit is slow; while the turn waits for it, the client cancels and a
    # resuming connection's cancel arrives too (a control): the reply ends stored, not streaming.
    llm = ScriptedLLM(REPLY, tokens_per_second=0, first_token_ms=60_000)
    app = app_of(tmp_path, llm)
    peer = Peer()
    entered, release = asyncio.Event(), asyncio.Event()
    async with connected(app, peer) as (conn, _):
        ready = await peer.wait_for("session.ready")
        store: Store = app.state.services.store
        add = store.add_user_message

        async def slow_add(*args: Any, **kwargs: Any) -> str:
            entered.set()
            await release.wait()
            return await add(*args, **kwargs)

        store.add_user_message = slow_add  # type: ignore[method-assign]
        peer.say(type="user.message", id="m1", text="hello")
        await entered.wait()
        peer.say(type="turn.cancel", turn_id=1)
        await settle_loop()  # the turn is cancelled, and its end waits for the commit
        control = app.state.services.hub.control(ready["session_id"], CancelTurn(None, None))
        await asyncio.wait_for(control, 30)
        end = await asyncio.wait_for(peer.wait_for("turn.end", turn_id=1), 30)
        release.set()
        await app.state.services.writes.drain()
        owner = await store.find_identity("guest", conn.identity)
        assert owner is not None
        rows = await store.messages(owner, ready["conversation_id"])
    assert end["status"] == "interrupted"
    assert [(m.role, m.status) for m in rows] == [
        ("user", "complete"),
        ("assistant", "interrupted"),
    ]


async def test_a_codec_change_during_a_turn_applies_from_the_next_turn(tmp_path: Path) -> None:
    llm = ScriptedLLM("Sure, one. Two three four. Five six seven.", tokens_per_second=20)
    app = app_of(tmp_path, llm)
    peer = Peer()
    async with connected(app, peer):
        await peer.wait_for("session.ready")
        peer.say(type="user.message", id="m1", text="count")
        await asyncio.wait_for(peer.wait_for("segment.end", turn_id=1), 30)
        peer.say(type="session.update", codec="opus")
        await asyncio.wait_for(peer.wait_for("session.updated"), 30)
        await asyncio.wait_for(peer.wait_for("turn.end", turn_id=1), 30)
        peer.say(type="user.message", id="m2", text="again")
        await asyncio.wait_for(peer.wait_for("turn.end", turn_id=2), 30)
    first = [e.codec for e in peer.of_turn(1) if isinstance(e, AudioFrame)]
    second = [e.codec for e in peer.of_turn(2) if isinstance(e, AudioFrame)]
    assert first and set(first) == {CODEC_IDS["pcm16"]}
    assert second and set(second) == {CODEC_IDS["opus"]}


async def test_the_saved_state_of_a_running_reply_carries_the_text_it_has_sent(
    tmp_path: Path,
) -> None:
    # Defect 7: what a process that takes over from a dead one knows of the reply.
    llm = ScriptedLLM(REPLY, tokens_per_second=20, first_token_ms=0)
    app = app_of(tmp_path, llm)
    peer = Peer()
    async with connected(app, peer):
        ready = await peer.wait_for("session.ready")
        peer.say(type="user.message", id="m1", text="count")
        delta = await asyncio.wait_for(peer.wait_for("text.delta", turn_id=1), 30)
        logs = app.state.services.hub.logs
        await until(lambda: logs[ready["session_id"]].state.running_text != "")
        state = logs[ready["session_id"]].state
        assert state.running_turn == 1
        assert state.running_text.startswith(delta["text"]) and REPLY.startswith(state.running_text)


def test_a_reply_orphaned_by_a_dead_process_ends_with_the_text_it_had_sent() -> None:
    services: Any = SimpleNamespace(store=None, settings=Settings(), hub=None)
    state = SessionState(
        session_id="s",
        subject="u",
        conversation_id="",
        seq=7,
        next_turn=2,
        running_turn=1,
        running_text="Sure, a bright kitchen",
    )
    relay = Relay(MemoryHub(ttl_s=60, cap=10), "s", "u", out=None)  # type: ignore[arg-type]
    session = Session("new")
    _, orphan = take_over(session, Handoff(state, orphaned=True), relay, services)
    assert orphan is not None and orphan.turn_id == 1
    error, end = orphan.events()
    assert error.code == "internal_error" and error.turn_id == 1
    assert end.status == "failed" and end.text == "Sure, a bright kitchen"
    assert session.send(end)  # the restored session still counts the turn as running


async def test_a_client_that_closes_with_1000_during_its_replay_stops_the_reply(
    tmp_path: Path,
) -> None:
    long_reply = " ".join(["word"] * 60) + "."
    llm = ScriptedLLM(long_reply, tokens_per_second=10, first_token_ms=0)
    app = app_of(tmp_path, llm)
    async with app.router.lifespan_context(app):
        first = Peer()
        _, owner = start(app, first)
        ready = await first.wait_for("session.ready")
        first.say(type="user.message", id="m1", text="talk", voice=False)
        await asyncio.wait_for(first.wait_for("text.delta", turn_id=1), 30)
        first.leave(1006)  # dropped: the reply goes on, for a resume
        query = urlencode(
            {"token": ready["guest_token"], "resume": ready["resume_token"], "last_seq": 1}
        )
        second = Peer(query)
        _, resumer = start(app, second)
        await asyncio.wait_for(second.wait_for("session.resumed"), 30)
        second.leave(1000)  # the user is done: the reply stops, it does not run to its end
        await asyncio.wait_for(asyncio.gather(owner, resumer), 30)
        frames = app.state.services.hub.logs[ready["session_id"]].frames
        ends = [
            json.loads(f.data) for f in frames if isinstance(f.data, str) and "turn.end" in f.data
        ]
    assert [(e["turn_id"], e["status"]) for e in ends] == [(1, "interrupted")]


async def test_a_cancel_held_during_a_replay_reaches_the_owner_whatever_its_size() -> None:
    controls: list[Control] = []

    async def owner(control: Control) -> None:
        controls.append(control)

    hub = MemoryHub(ttl_s=60, cap=10)
    state = SessionState(session_id="s", subject="u", conversation_id="", seq=0, next_turn=2)
    await hub.open(state, owner)
    relay = Relay(hub, "s", "u", out=None)  # type: ignore[arg-type]
    padded = '{"type": "turn.cancel", "turn_id": 1, "played_ms": 1200' + " " * 5000 + "}"
    await relay.hold({"type": "websocket.receive", "text": padded})
    assert controls == [CancelTurn(turn_id=1, played_ms=1200)]
    assert len(relay.held) == 1  # and it is handled in order once the replay is over
