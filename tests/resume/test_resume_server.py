"""Resume on one process (in-memory replay): a cut reply arrives whole, once, in order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import serve
from tests.cutproxy import CutProxy, cut_proxy
from tests.resume.turns import (
    REPLY,
    assert_consecutive,
    audio_of,
    one_turn,
    seqs_of,
    streams,
    text_of,
)
from tests.server.test_persistence import wait_for_messages, ws_url
from tests.waiting import HANG_S, until
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.frames import AudioFrame
from voicewire.protocol.messages import (
    PROTOCOL_VERSION,
    Error,
    SessionReady,
    SessionResumed,
    SessionUpdated,
    TurnEnd,
    server_message_adapter,
)
from voicewire.resume import SessionState
from voicewire.resume.memory import MemoryHub
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS


@contextmanager
def server_app(
    tmp_path: Path, *, tokens_per_second: float = 40, **settings: Any
) -> Iterator[tuple[FastAPI, str]]:
    """A server streaming REPLY at 40 tokens/s (about 2 s), with the fake voice."""
    options: dict[str, Any] = {"llm": "scripted", "tts": "fake", "data_dir": tmp_path}
    llm = ScriptedLLM(REPLY, tokens_per_second=tokens_per_second, first_token_ms=20)
    app = create_app(Settings(**(options | settings)), llm=llm, tts=FakeToneTTS())
    with serve(app) as base:
        yield app, base


@contextmanager
def server(tmp_path: Path, **settings: Any) -> Iterator[str]:
    with server_app(tmp_path, **settings) as (_, base):
        yield base


def cuttable(base: str) -> AbstractAsyncContextManager[CutProxy]:
    return cut_proxy(int(base.rsplit(":", 1)[1]))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    with server_app(tmp_path_factory.mktemp("data")) as served:
        yield served


@pytest.fixture(scope="module")
def base(served: tuple[FastAPI, str]) -> str:
    return served[1]


@pytest.fixture(scope="module")
def reference(base: str) -> list[Any]:
    """The same reply, never interrupted."""

    async def run() -> list[Any]:
        async with Client(ws_url(base)) as c:
            return await one_turn(c)

    return asyncio.run(run())


def assert_same_reply(events: list[Any], reference: list[Any]) -> None:
    assert text_of(events) == text_of(reference) == REPLY
    assert audio_of(events) == audio_of(reference)
    assert streams(events) == streams(reference)
    assert_consecutive(events)


@pytest.mark.parametrize("half_open", [False, True], ids=["reset", "half-open"])
async def test_a_reply_cut_mid_stream_arrives_byte_identical_after_the_resume(
    base: str, reference: list[Any], half_open: bool
) -> None:
    async with cuttable(base) as proxy, Client(proxy.url) as c:
        events = await one_turn(c, cut=lambda n: n == 3, proxy=proxy, half_open=half_open)
    assert c.resumes == 1
    assert_same_reply(events, reference)
    end = events[-1]
    assert isinstance(end, TurnEnd) and end.status == "complete" and end.text == REPLY
    pcm = np.frombuffer(audio_of(events), dtype="<i2").astype(np.float64)
    assert len(pcm) / c.ready.audio.sample_rate > 5  # type: ignore[union-attr]
    assert np.sqrt(np.mean(pcm**2)) > 500, "the resumed audio is silence"


async def test_a_session_goes_on_after_a_resume_with_the_same_seq_and_turns(base: str) -> None:
    async with cuttable(base) as proxy, Client(proxy.url) as c:
        first = await one_turn(c, cut=lambda n: n == 2, proxy=proxy, half_open=True)
        second = await one_turn(c, "And the day after?")
    assert c.resumes == 1
    assert isinstance(first[-1], TurnEnd) and first[-1].turn_id == 1
    assert isinstance(second[-1], TurnEnd) and second[-1].turn_id == 2
    assert second[-1].status == "complete"
    assert seqs_of(second)[0] == seqs_of(first)[-1] + 1


async def test_a_session_update_is_saved_for_a_resume_elsewhere_before_any_turn(
    served: tuple[FastAPI, str],
) -> None:
    app, base = served
    hub: MemoryHub = app.state.services.hub
    async with Client(base.replace("http", "ws") + "/ws") as c:
        assert c.ready is not None
        session = c.ready.session_id
        await c.send_json({"type": "session.update", "sample_rate": 16000, "rate": 1.5})
        updated = await c.receive()
        assert isinstance(updated, SessionUpdated) and updated.audio.sample_rate == 16000

        async def saved() -> SessionState | None:
            state = await hub.find(session)
            return state if state is not None and state.sample_rate == 16000 else None

        # What a process that goes on with the session after this one died would restore:
        # the client plays its audio at 16 kHz now, so the state must say so (and pinned).
        state = await until(saved, "the updated settings to be saved in the session's log")
        assert state.pinned_rate and state.requested_rate == 16000 and state.rate == 1.5


async def test_a_reply_that_ended_while_the_client_was_away_is_replayed_whole(
    served: tuple[FastAPI, str], reference: list[Any]
) -> None:
    app, base = served
    async with cuttable(base) as proxy, Client(proxy.url) as c:
        assert c.ready is not None
        log = app.state.services.hub.logs[c.ready.session_id]
        await c.send("What is the plan?", message_id="q-what-is-the-plan?")
        events: list[Any] = []
        while len([e for e in events if isinstance(e, AudioFrame)]) < 2:
            event = await c.receive()
            if events or type(event).__name__ == "TurnStart":
                events.append(event)
        proxy.cut()
        # The whole reply is generated meanwhile: its turn.end is in the replay log.
        await until(lambda: any(is_turn_end(f.data) for f in log.frames), "the reply to end")
        while not isinstance(events[-1], TurnEnd):
            event = await c.receive()
            if not isinstance(event, SessionResumed):
                events.append(event)
    assert c.resumes == 1
    assert_same_reply(events, reference)


def is_turn_end(data: str | bytes) -> bool:
    return isinstance(data, str) and json.loads(data).get("type") == "turn.end"


async def test_the_stored_conversation_has_the_whole_resumed_reply(base: str) -> None:
    async with cuttable(base) as proxy, Client(proxy.url) as c:
        events = await one_turn(c, cut=lambda n: n == 2, proxy=proxy)
        assert c.ready is not None and c.token and c.conversation_id
    messages = await wait_for_messages(
        base, c.conversation_id, c.token, lambda m: m and m[-1]["status"] == "complete"
    )
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert messages[-1]["text"] == text_of(events) == REPLY


async def raw_resume(base: str, **params: str) -> tuple[Any, list[Any]]:
    """Connect with `params`; return the socket and the first events (up to 2)."""
    ws = await connect(ws_url(base, **params), subprotocols=[PROTOCOL_VERSION])  # type: ignore[list-item]
    first = [server_message_adapter.validate_json(await ws.recv())]
    if isinstance(first[0], SessionReady):
        first.append(server_message_adapter.validate_json(await ws.recv()))
    return ws, first


async def test_a_cancel_sent_during_the_replay_stops_the_reply(base: str) -> None:
    async with cuttable(base) as proxy, Client(proxy.url, resume=False) as c:
        await c.send("What is the plan?")
        while not isinstance(await c.receive(), AudioFrame):
            pass
        proxy.cut()
        token, resume, last_seq = c.token, c.resume_token, c.last_seq
    assert token and resume
    ws, first = await raw_resume(base, token=token, resume=resume, last_seq=str(last_seq))
    assert isinstance(first[0], SessionResumed) and first[0].seq == last_seq
    await ws.send('{"type": "turn.cancel", "turn_id": 1, "played_ms": 300}')
    async with asyncio.timeout(HANG_S):
        while True:
            data = await ws.recv()
            if isinstance(data, str):
                event = server_message_adapter.validate_json(data)
                if isinstance(event, TurnEnd):
                    break
    await ws.close()
    assert event.status == "interrupted" and event.played_ms == 300
    assert len(event.text) < len(REPLY)


async def test_resumes_with_a_forged_expired_foreign_or_missing_token_are_refused(
    tmp_path: Path,
) -> None:
    with server(tmp_path, resume_token_ttl_s=-1) as expired_base:
        async with Client(ws_url(expired_base)) as c:
            token, expired = c.token, c.resume_token
        assert token and expired
        with pytest.raises(InvalidStatus) as refused:
            await raw_resume(expired_base, token=token, resume=expired, last_seq="1")
        assert refused.value.response.status_code == 403

    with server(tmp_path / "b") as base:
        async with Client(ws_url(base)) as a, Client(ws_url(base)) as b:
            assert a.token and a.resume_token and b.token
            body, _, sig = a.resume_token.partition(".")
            forged = body + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
            refusals = [
                {"token": a.token, "resume": forged, "last_seq": "1"},  # forged
                {"token": b.token, "resume": a.resume_token, "last_seq": "1"},  # not b's
                {"resume": a.resume_token, "last_seq": "1"},  # no identity
                {"token": a.token, "resume": a.token, "last_seq": "1"},  # not a resume token
                {"token": a.token, "resume": a.resume_token, "last_seq": "-1"},
            ]
            for params in refusals:
                with pytest.raises(InvalidStatus) as refused:
                    await raw_resume(base, **params)
                assert refused.value.response.status_code == 403, params


async def test_a_session_past_its_resume_window_starts_afresh_on_the_same_conversation(
    tmp_path: Path,
) -> None:
    with server_app(tmp_path, resume_ttl_s=0.2) as (app, base):
        async with Client(ws_url(base)) as c:
            await one_turn(c)
            token, resume, seq = c.token, c.resume_token, c.last_seq
            conversation = c.conversation_id
            assert c.ready is not None
            session = c.ready.session_id
        assert token and resume
        # Past the window: the session has ended on the server and the hub has let it go.
        hub = app.state.services.hub
        await until(lambda: session_gone(hub, session), "the session to expire")
        ws, first = await raw_resume(base, token=token, resume=resume, last_seq=str(seq))
        await ws.close()
    ready, error = first
    assert isinstance(ready, SessionReady) and ready.seq == 1
    assert ready.conversation_id == conversation and ready.resume_token != resume
    assert isinstance(error, Error) and error.code == "resume_unavailable"


async def session_gone(hub: MemoryHub, session_id: str) -> bool:
    return await hub.find(session_id) is None


async def test_a_resume_claiming_frames_never_sent_starts_afresh(base: str) -> None:
    async with Client(ws_url(base)) as c:
        token, resume = c.token, c.resume_token
    assert token and resume
    ws, first = await raw_resume(base, token=token, resume=resume, last_seq="999")
    await ws.close()
    assert isinstance(first[0], SessionReady)
    assert isinstance(first[1], Error) and first[1].code == "resume_unavailable"


async def test_a_reply_nobody_resumes_stops_after_the_grace_period(tmp_path: Path) -> None:
    # A slow reply (about 8 s), so it is still being written when the grace period ends.
    with server(tmp_path, resume_grace_s=0.3, tokens_per_second=10) as base:
        async with cuttable(base) as proxy, Client(proxy.url, resume=False) as c:
            await c.send("What is the plan?")
            while not isinstance(await c.receive(), AudioFrame):
                pass
            proxy.cut()
        assert c.token and c.conversation_id
        messages = await wait_for_messages(
            base, c.conversation_id, c.token, lambda m: m and m[-1]["status"] != "streaming"
        )
    reply = messages[-1]
    assert reply["status"] == "interrupted"
    assert 0 < len(reply["text"]) < len(REPLY)


async def test_the_old_connection_of_a_resumed_session_is_closed_with_4002(base: str) -> None:
    async with Client(ws_url(base)) as old:
        token, resume, seq = old.token, old.resume_token, old.last_seq
        assert token and resume
        ws, first = await raw_resume(base, token=token, resume=resume, last_seq=str(seq))
        assert isinstance(first[0], SessionResumed)
        with pytest.raises(Exception) as closed:
            async with asyncio.timeout(HANG_S):
                await old.ws.recv()
        assert getattr(closed.value, "rcvd", None) is not None
        assert closed.value.rcvd.code == 4002  # type: ignore[attr-defined]
        await ws.send('{"type": "ping", "id": "p"}')
        pong = server_message_adapter.validate_json(await ws.recv())
        assert pong.type == "pong" and pong.seq == seq + 1
        await ws.close()


async def test_a_resumed_reply_goes_on_past_the_grace_period(tmp_path: Path) -> None:
    # The resume must come within the grace period (3 s is far more than a reconnect takes);
    # the reply (about 5 s) goes on past it.
    with server(tmp_path, resume_grace_s=3.0, tokens_per_second=15) as base:
        async with cuttable(base) as proxy, Client(proxy.url) as c:
            events = await one_turn(c, cut=lambda n: n == 2, proxy=proxy)
    assert c.resumes == 1
    end = events[-1]
    assert isinstance(end, TurnEnd) and end.status == "complete" and end.text == REPLY


async def test_a_turn_whose_session_cannot_be_resumed_ends_interrupted_in_the_client(
    tmp_path: Path,
) -> None:
    options: dict[str, Any] = {"llm": "scripted", "tts": "fake", "data_dir": tmp_path}
    llm = ScriptedLLM(REPLY, tokens_per_second=40, first_token_ms=20)
    app = create_app(Settings(**options), llm=llm, tts=FakeToneTTS())
    with serve(app) as base:
        async with cuttable(base) as proxy, Client(proxy.url) as c:

            def lose_the_session(event: object) -> None:
                if isinstance(event, AudioFrame) and app.state.services.hub.logs:
                    app.state.services.hub.logs.clear()  # as if the server had restarted
                    proxy.cut()

            result = await c.ask("What is the plan?", on_event=lose_the_session)
            assert result.end is not None and result.end.status == "interrupted"
            error = await c.receive()
            assert isinstance(error, Error) and error.code == "resume_unavailable"
            again = await c.ask("Still there?")
    assert again.end is not None and again.end.status == "complete"


async def test_session_ready_is_the_first_frame_even_when_the_client_talks_at_once(
    tmp_path: Path, redis_prefix: str
) -> None:
    from tests.resume.conftest import require_redis

    with server(tmp_path, redis_url=require_redis()) as base:
        for _ in range(5):
            ws = await connect(ws_url(base), subprotocols=[PROTOCOL_VERSION])  # type: ignore[list-item]
            await ws.send('{"type": "ping", "id": "now"}')
            first = server_message_adapter.validate_json(await ws.recv())
            second = server_message_adapter.validate_json(await ws.recv())
            await ws.close()
            assert isinstance(first, SessionReady) and first.seq == 1
            assert second.type == "pong" and second.seq == 2
