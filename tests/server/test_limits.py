"""Limits, backpressure and handshake security, over a real server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import serve
from tests.waiting import until
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.frames import AudioFrame
from voicewire.protocol.messages import TurnStart
from voicewire.server.app import create_app
from voicewire.server.auth import Identity, TokenSigner, load_secret
from voicewire.tts.fake import FakeToneTTS

SUBPROTOCOL: Any = ["voicewire.v1"]
WORDS = "Alpha beta gamma delta epsilon zeta eta theta iota kappa. "


def make_app(data: Path, reply: str = WORDS * 3, tps: float = 50, **settings: Any) -> FastAPI:
    llm = ScriptedLLM(reply, tokens_per_second=tps, first_token_ms=5)
    config = Settings(llm="scripted", tts="fake", data_dir=data, **settings)
    return create_app(config, llm=llm, tts=FakeToneTTS())


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app = make_app(tmp_path_factory.mktemp("data"), max_messages_per_second=50)
    with serve(app) as base:
        yield base.replace("http", "ws", 1) + "/ws"


async def close_code(ws: Any) -> int | None:
    try:
        while True:
            await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def test_cancel_stores_and_reports_only_the_words_heard(url: str) -> None:
    async with Client(url) as c:
        await c.send("count")
        events: list[Any] = []
        # Let the reply get ahead of the playback: a whole segment (its words, its audio, and
        # more than 700 ms of it) has come; then say we heard 700 ms of it.
        while not any(getattr(e, "type", "") == "segment.end" for e in events):
            events.append(await c.receive())
        start = next(e for e in events if isinstance(e, TurnStart))
        await c.cancel(start.turn_id, played_ms=700)
        events += [e async for e in _until_turn_end(c)]
    end = events[-1]
    segment_ends = [e for e in events if getattr(e, "type", "") == "segment.end"]
    assert end.status == "interrupted" and end.played_ms == 700
    assert end.generated_text and end.generated_text.startswith(end.text)
    assert len(end.text) < len(end.generated_text)
    # FakeToneTTS: 60 ms per char + 40 ms per word; 700 ms covers "Alpha beta gamma" (3 words).
    assert end.text.split() in (["Alpha", "beta"], ["Alpha", "beta", "gamma"])
    assert segment_ends[0].duration_ms > 700, "the cancel came before 700 ms were sent"


async def _until_turn_end(c: Client) -> Any:
    while True:
        event = await c.receive()
        yield event
        if getattr(event, "type", "") == "turn.end":
            return


async def test_no_audio_frame_of_a_cancelled_turn_follows_its_turn_end(url: str) -> None:
    async with Client(url) as c:
        for _ in range(3):
            await c.send("count")
            start = await c.receive()
            while not isinstance(start, TurnStart):
                start = await c.receive()
            while not isinstance(await c.receive(), AudioFrame):
                pass
            await c.cancel(start.turn_id, played_ms=100)
            ended = False
            # Anything after turn.end, until the pong, must not be audio of that turn.
            await c.send_json({"type": "ping", "id": "p"})
            while True:
                event = await c.receive()
                if getattr(event, "type", "") == "turn.end":
                    ended = True
                elif ended and isinstance(event, AudioFrame):
                    assert event.turn_id != start.turn_id
                if getattr(event, "type", "") == "pong":
                    break
            assert ended


async def test_a_reply_longer_than_the_limit_is_cut_with_an_error(tmp_path: Path) -> None:
    with serve(make_app(tmp_path, tps=500, max_reply_chars=40)) as base:
        async with Client(base.replace("http", "ws", 1) + "/ws") as c:
            result = await c.ask("count", voice=False)
    assert result.end is not None and len(result.end.text) == 40
    assert [e.code for e in result.errors] == ["reply_too_long"]


async def test_an_idle_session_is_closed_with_4000(tmp_path: Path) -> None:
    with serve(make_app(tmp_path, idle_timeout_s=0.5)) as base:
        async with connect(base.replace("http", "ws", 1) + "/ws", subprotocols=SUBPROTOCOL) as ws:
            await ws.recv()
            error = json.loads(await ws.recv())
            assert error["code"] == "idle_timeout"
            assert await close_code(ws) == 4000


async def test_too_many_sessions_for_one_identity_are_refused_with_4029(tmp_path: Path) -> None:
    app = make_app(tmp_path, max_connections_per_identity=2)
    token = TokenSigner(load_secret(None, tmp_path)).sign(Identity("user", "alice"))
    with serve(app) as base:
        url = base.replace("http", "ws", 1) + f"/ws?token={token}"
        async with connect(url, subprotocols=SUBPROTOCOL), connect(url, subprotocols=SUBPROTOCOL):
            async with connect(url, subprotocols=SUBPROTOCOL) as third:
                error = json.loads(await third.recv())
                assert error["code"] == "too_many_connections"
                assert await close_code(third) == 4029
            # Another identity is not affected.
            async with Client(base.replace("http", "ws", 1) + "/ws") as other:
                assert other.ready is not None
        # Slots are given back when sessions end (the server notices the closes a moment later).
        connections = app.state.services.connections
        await until(lambda: connections.count == 0, "the sessions to end")
        async with Client(url) as again:
            assert again.ready is not None


async def test_the_server_total_is_enforced_with_1013(tmp_path: Path) -> None:
    with serve(make_app(tmp_path, max_connections=1)) as base:
        url = base.replace("http", "ws", 1) + "/ws"
        async with (
            connect(url, subprotocols=SUBPROTOCOL),
            connect(url, subprotocols=SUBPROTOCOL) as b,
        ):
            assert json.loads(await b.recv())["code"] == "server_busy"
            assert await close_code(b) == 1013


async def test_a_foreign_origin_is_refused_and_the_same_origin_accepted(url: str) -> None:
    host = url.split("/")[2]
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, subprotocols=SUBPROTOCOL, origin="https://evil.example"):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    async with connect(url, subprotocols=SUBPROTOCOL, origin=f"http://{host}") as ws:  # type: ignore[arg-type]
        assert json.loads(await ws.recv())["type"] == "session.ready"


async def test_an_allowlisted_origin_is_accepted(tmp_path: Path) -> None:
    with serve(make_app(tmp_path, allowed_origins=["https://app.example"])) as base:
        url = base.replace("http", "ws", 1) + "/ws"
        async with connect(url, subprotocols=SUBPROTOCOL, origin="https://app.example") as ws:  # type: ignore[arg-type]
            assert json.loads(await ws.recv())["type"] == "session.ready"
        with pytest.raises(InvalidStatus):
            async with connect(url, subprotocols=SUBPROTOCOL, origin="https://other.example"):  # type: ignore[arg-type]
                pass


async def test_with_auth_required_the_handshake_needs_a_valid_user_token(tmp_path: Path) -> None:
    token = TokenSigner(load_secret(None, tmp_path)).sign(Identity("user", "bob"))
    with serve(make_app(tmp_path, require_token=True)) as base:
        url = base.replace("http", "ws", 1) + "/ws"
        for bad in ("", "?token=garbage", "?token=" + token[:-3] + "AAA"):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url + bad, subprotocols=SUBPROTOCOL):
                    pass
            assert refused.value.response.status_code == 403
        async with Client(url + "?token=" + token) as c:
            assert c.ready is not None and c.ready.guest_token is None


async def test_a_client_that_never_reads_is_cut_off_and_its_buffer_stays_bounded(
    tmp_path: Path,
) -> None:
    long_reply = WORDS * 400  # minutes of speech
    app = make_app(
        tmp_path,
        reply=long_reply,
        tps=5000,
        send_timeout_s=1.0,
        send_queue_frames=64,
        # Cut off, the reply goes on into the replay log for a resume (PROTOCOL.md §8) for
        # this long, within resume_buffer_frames; then the session ends.
        resume_grace_s=2.0,
        resume_buffer_frames=300,
    )
    with serve(app) as base:
        url = base.replace("http", "ws", 1) + "/ws"
        # max_queue=1: the client stops reading from its socket after one unread message.
        async with connect(url, subprotocols=SUBPROTOCOL, max_queue=1) as stuck:
            await stuck.send(json.dumps({"type": "user.message", "id": "m", "text": "talk"}))
            async with Client(url) as good:
                # Meanwhile a well-behaved client gets its whole reply.
                result = await good.ask("hello", voice=False)
                assert result.end is not None and result.end.status == "complete"
            connections = app.state.services.connections
            await until(lambda: connections.count == 0, "the stuck client to be cut off")
            # The server gave up on the stuck client instead of buffering minutes of audio.
            assert connections.count == 0
            logs = app.state.services.hub.logs.values()
            assert logs and all(len(log.frames) <= 300 for log in logs)


async def test_a_well_behaved_client_is_served_while_another_floods(url: str) -> None:
    async def flood() -> int | None:
        async with connect(url, subprotocols=SUBPROTOCOL, max_size=None) as ws:
            await ws.recv()
            for _ in range(1000):
                await ws.send('{"type":"ping"}')
            return await close_code(ws)

    async def behave() -> str:
        async with Client(url) as c:
            result = await c.ask("hello", voice=False)
            assert result.end is not None
            return result.end.status

    code, status = await asyncio.gather(flood(), behave())
    assert code == 4008 and status == "complete"


async def test_bad_frames_each_get_their_documented_answer_and_others_keep_going(url: str) -> None:
    async def expect(frame: str | bytes, code: str | None, close: int | None) -> None:
        async with connect(url, subprotocols=SUBPROTOCOL, max_size=None) as ws:
            await ws.recv()
            await ws.send(frame)
            if code is not None:
                assert json.loads(await ws.recv())["code"] == code
            if close is not None:
                assert await close_code(ws) == close

    async def behave() -> str:
        async with Client(url) as c:
            result = await c.ask("hello")
            assert result.end is not None and result.audio
            return result.end.status

    checks = asyncio.gather(
        # Far above the limit the WebSocket layer refuses the frame itself: 1009, no event.
        expect("x" * 10_000_000, None, 1009),
        expect("x" * 100_000, "frame_too_big", 1009),
        expect("[1, 2]", "not_an_object", None),
        expect('{"type": "bogus"}', "unknown_type", None),
        expect("{nope", "invalid_json", None),
        expect(b"\x00" * 100, "unexpected_binary", 1003),
    )
    _, status = await asyncio.gather(checks, behave())
    assert status == "complete"


async def test_invalid_utf8_in_a_text_frame_closes_with_1007(url: str) -> None:
    reader, writer = await asyncio.open_connection(*url.split("/")[2].split(":"))
    host = url.split("/")[2]
    writer.write(
        (
            "GET /ws HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: voicewire.v1\r\n\r\n"
        ).encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    payload = b"\xff\xfe\xfd"
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    writer.write(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    await writer.drain()
    data = await reader.read(65536)
    while b"\x88" not in data:  # skip session.ready; find the close frame
        more = await reader.read(65536)
        if not more:
            break
        data += more
    close = data[data.index(b"\x88") :]
    assert int.from_bytes(close[2:4], "big") == 1007
    writer.close()
    await writer.wait_closed()
