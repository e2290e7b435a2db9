"""Compressed speech end to end: opus and mp3 on /ws, and the seed-shaped /ws/voice-chat/."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncGenerator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.codecs.audio import decode_mp3, decode_opus, rms
from tests.conftest import serve
from tests.waiting import HANG_S, until
from voicewire.client import Client
from voicewire.codecs.opus import OPUS_RATE
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.frames import CODEC_IDS, AudioFrame, FrameFlags
from voicewire.protocol.messages import SessionUpdated
from voicewire.responder import DataItem, TurnContext
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS

SPOKEN = "Sure, I can help. 🙂 The flat has two bedrooms! It costs $1,850 a month."
REPLY = SPOKEN + " 🏠"  # the trailing emoji is left out of the speech
CARD = [{"id": 7, "title": "Maple Street"}]
IDENTITIES: list[str | None] = []


async def respond(ctx: TurnContext) -> AsyncGenerator[str | DataItem, None]:
    IDENTITIES.append(ctx.identity)
    if "card" in ctx.text:
        yield DataItem("propertyData", CARD)
    async for delta in ctx.llm_stream():
        yield delta


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path_factory.mktemp("data"))
    llm = ScriptedLLM(REPLY, tokens_per_second=50, first_token_ms=10)
    app = create_app(settings, llm=llm, tts=FakeToneTTS(), responder=respond)
    with serve(app) as url:
        yield url.replace("http", "ws", 1)


# --------------------------------------------------------------------------- /ws, v1 codecs


async def ask_with_codec(base: str, codec: str) -> tuple[SessionUpdated, Any]:
    async with Client(base + "/ws") as c:
        await c.send_json({"type": "session.update", "codec": codec})
        updated = await c.receive()
        assert isinstance(updated, SessionUpdated)
        return updated, await c.ask("Tell me about the flat")


@pytest.mark.parametrize("codec", ["opus", "mp3"])
async def test_each_compressed_segment_decodes_to_its_segment_end_duration(
    base: str, codec: str
) -> None:
    updated, result = await ask_with_codec(base, codec)
    assert updated.audio.codec == codec
    assert result.end.status == "complete" and result.errors == []
    segments = result.segments
    assert len(segments) >= 3
    for start, end, _ in segments:
        assert end is not None
        frames = [
            e
            for _, e in result.events
            if isinstance(e, AudioFrame) and e.segment_id == start.segment_id
        ]
        assert {f.codec for f in frames} == {CODEC_IDS[codec]}
        assert frames[0].flags & FrameFlags.SEGMENT_START
        assert frames[-1].flags & FrameFlags.SEGMENT_END
        if codec == "opus":
            audio, rate = decode_opus([f.payload for f in frames], end.samples), OPUS_RATE
        else:
            audio, rate = decode_mp3(b"".join(f.payload for f in frames))
        assert audio.size == end.samples
        assert abs(audio.size * 1000 / rate - end.duration_ms) <= 30
        assert rms(audio) > 0.05, f"segment {start.segment_id} is silent"


async def test_opus_frames_stream_while_the_segment_is_synthesized(base: str) -> None:
    _, result = await ask_with_codec(base, "opus")
    by_segment: dict[int, list[AudioFrame]] = {}
    for _, e in result.events:
        if isinstance(e, AudioFrame):
            by_segment.setdefault(e.segment_id, []).append(e)
    # FakeToneTTS speaks "The flat has two bedrooms!" in ~1.5 s: one frame per 200 ms, with
    # offsets in speech samples.
    frames = max(by_segment.values(), key=len)
    assert len(frames) >= 7
    offsets = [f.sample_offset for f in frames]
    assert offsets[0] == 0 and offsets == sorted(offsets)


async def test_session_updated_advertises_the_rate_the_codec_is_sent_at(base: str) -> None:
    updated, _ = await ask_with_codec(base, "opus")
    assert updated.audio.sample_rate == OPUS_RATE


# --------------------------------------------------------------------------- /ws/voice-chat/


Query = dict[str, Any] | str | bytes


async def reply(ws: ClientConnection, message: Query) -> list[dict[str, Any]]:
    """Send one query; every frame until `end` (or an error), each checked to be JSON."""
    await ws.send(json.dumps(message) if isinstance(message, dict) else message)
    out = []
    while True:
        raw = await ws.recv()
        assert isinstance(raw, str), "the compat endpoint sent a binary frame"
        frame = json.loads(raw)
        assert isinstance(frame, dict) and isinstance(frame.get("type"), str)
        out.append(frame)
        if frame["type"] in ("end", "error"):
            return out


async def test_a_voice_query_gets_one_playable_mp3_per_segment_with_its_text(base: str) -> None:
    async with connect(base + "/ws/voice-chat/") as ws:
        frames = await reply(ws, {"usr_query": "Tell me about the flat", "is_voice": True})
    voices = [f for f in frames if f["type"] == "voice"]
    assert len(voices) >= 3
    # Each segment's text, the emoji the voice skipped included, in order.
    assert " ".join(f["text"] for f in voices) == SPOKEN
    for f in voices:
        audio, rate = decode_mp3(base64.b64decode(f["audio"]))
        # FakeToneTTS: 60 ms per letter and 40 ms after each word, at 22050 Hz.
        words = f["text"].replace("🙂", "").split()
        expected = sum(int(22050 * 0.06 * len(w)) + int(22050 * 0.04) for w in words)
        assert rate == 22050
        assert abs(audio.size - expected) * 1000 / rate <= 30
        assert rms(audio) > 0.05
    # What the voice could not say comes as text, then the end of the reply.
    assert frames[-2:] == [{"type": "text", "text": "🏠"}, {"type": "end", "status": "complete"}]


async def test_a_text_query_gets_the_whole_reply_as_one_text_message(base: str) -> None:
    async with connect(base + "/ws/voice-chat/") as ws:
        frames = await reply(ws, {"usr_query": "hi", "is_voice": False})
    assert frames == [{"type": "text", "text": REPLY}, {"type": "end", "status": "complete"}]


async def test_app_data_comes_as_a_text_message_with_content(base: str) -> None:
    async with connect(base + "/ws/voice-chat/") as ws:
        frames = await reply(ws, {"usr_query": "show me a card", "is_voice": False})
    assert frames[0] == {"type": "text", "content": CARD, "kind": "propertyData"}


@pytest.mark.parametrize(
    ("message", "complaint"),
    [
        ("hello there", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ({"usr_id": "u1"}, "usr_query"),
        ({"usr_query": "   "}, "usr_query"),
        ({"usr_query": "hi", "is_voice": "yes"}, "is_voice"),
        ({"usr_query": "x" * 5000}, "longer than"),
        (b'{"usr_query": "hi"}', "not binary"),
    ],
)
async def test_bad_input_gets_a_json_error_and_the_connection_stays_usable(
    base: str, message: Query, complaint: str
) -> None:
    async with connect(base + "/ws/voice-chat/") as ws:
        error = await reply(ws, message)
        assert len(error) == 1 and error[0]["type"] == "error"
        assert complaint in error[0]["message"]
        frames = await reply(ws, {"usr_query": "hi", "is_voice": False})
    assert frames[-1] == {"type": "end", "status": "complete"}


async def test_the_ids_in_the_message_are_not_trusted_for_identity(base: str) -> None:
    IDENTITIES.clear()
    async with connect(base + "/ws/voice-chat/") as ws:
        await reply(ws, {"usr_query": "hi", "usr_id": "alice", "guest_id": "g1", "is_voice": False})
    assert len(IDENTITIES) == 1
    assert IDENTITIES[0] is not None and IDENTITIES[0].startswith("guest-")


async def test_an_invalid_token_is_refused_at_the_handshake(base: str) -> None:
    with pytest.raises(InvalidStatus):
        async with connect(base + "/ws/voice-chat/?token=forged.token"):
            pass


Stored = list[tuple[str, str, str]]


async def stored_messages(
    base: str, token: str, done: Callable[[set[tuple[str, str]]], bool]
) -> Stored:
    """(role, text, status) of every message of the token owner's conversations, once `done`
    holds for their (role, status) pairs (the rows are written in the background)."""
    http = base.replace("ws", "http", 1)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=http, headers=headers, timeout=HANG_S) as client:

        async def read() -> Stored | None:
            stored = []
            for conversation in (await client.get("/api/conversations")).json():
                url = f"/api/conversations/{conversation['id']}/messages"
                stored += [
                    (m["role"], m["text"], m["status"]) for m in (await client.get(url)).json()
                ]
            return stored if done({(role, status) for role, _, status in stored}) else None

        return await until(read, "the messages to be stored")


async def test_turns_are_stored_in_the_token_owners_conversation(base: str) -> None:
    async with Client(base + "/ws") as c:  # a v1 session hands out a guest token
        assert c.ready is not None and c.ready.guest_token
        token = c.ready.guest_token
    async with connect(base + f"/ws/voice-chat/?token={token}") as ws:
        await reply(ws, {"usr_query": "count for me", "usr_id": "alice", "is_voice": False})
    # The reply row is finished by a background write.
    stored = await stored_messages(base, token, lambda m: ("assistant", "complete") in m)
    assert ("user", "count for me", "complete") in stored
    assert ("assistant", REPLY, "complete") in stored


async def test_closing_mid_reply_stops_the_turn_and_stores_it_as_interrupted(base: str) -> None:
    async with Client(base + "/ws") as c:
        assert c.ready is not None and c.ready.guest_token
        token = c.ready.guest_token
    async with connect(base + f"/ws/voice-chat/?token={token}") as ws:
        await ws.send(json.dumps({"usr_query": "Tell me about the flat"}))
        first = json.loads(await ws.recv())
        assert first["type"] == "voice"
    # The /ws session made a conversation too, an empty one.
    stored = await stored_messages(base, token, lambda m: ("assistant", "interrupted") in m)
    assert [(role, status) for role, _, status in stored] == [
        ("user", "complete"),
        ("assistant", "interrupted"),
    ]


async def test_the_compat_endpoint_keeps_the_handshake_policy_and_limits_of_ws(
    tmp_path: Path,
) -> None:
    def app_with(**settings: Any) -> FastAPI:
        config = Settings(llm="scripted", tts="fake", data_dir=tmp_path, **settings)
        return create_app(config, llm=ScriptedLLM(REPLY), tts=FakeToneTTS())

    idle_app = app_with(allowed_origins=["https://app.example"], idle_timeout_s=0.5)
    with serve(idle_app) as url:
        chat = url.replace("http", "ws", 1) + "/ws/voice-chat/"
        with pytest.raises(InvalidStatus):  # a page from another origin
            async with connect(chat, origin="https://evil.example"):  # type: ignore[arg-type]
                pass
        async with connect(chat, origin="https://app.example") as ws:  # type: ignore[arg-type]
            error = json.loads(await ws.recv())  # nothing sent: the idle timeout closes it
            assert error["type"] == "error" and error["code"] == "idle_timeout"
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000

    # Its own server, without the short idle timeout: the /ws session below must keep its slot
    # however long the machine takes to open the second connection.
    with serve(app_with(max_connections_per_identity=1)) as url:
        chat = url.replace("http", "ws", 1) + "/ws/voice-chat/"
        async with Client(url.replace("http", "ws", 1) + "/ws") as c:  # an identity of our own
            token = c.token
            assert token
            # /ws holds this identity's one slot: the compat endpoint is refused with 4029.
            async with connect(chat + f"?token={token}") as ws:
                error = json.loads(await ws.recv())
                assert error["code"] == "too_many_connections"
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4029

    required = Settings(llm="scripted", tts="fake", data_dir=tmp_path, require_token=True)
    app = create_app(required, llm=ScriptedLLM(REPLY), tts=FakeToneTTS())
    with serve(app) as url, pytest.raises(InvalidStatus):
        async with connect(url.replace("http", "ws", 1) + "/ws/voice-chat/"):
            pass
