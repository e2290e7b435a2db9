"""End to end over a real uvicorn server and a real WebSocket client (scripted LLM, fake TTS)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import serve
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.frames import AudioFrame, FrameFlags
from voicewire.protocol.messages import (
    Error,
    Pong,
    SegmentEnd,
    SegmentStart,
    SessionUpdated,
    TextDelta,
    TurnStart,
)
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS

REPLY = (
    "Sure, I can help with that. The flat has two bedrooms and a balcony. "
    "It costs $1,850 a month, and Dr. Smith can show it on Saturday."
)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("data")
    llm = ScriptedLLM(REPLY, tokens_per_second=10, first_token_ms=20)
    settings = Settings(llm="scripted", tts="fake", data_dir=data)
    app = create_app(settings, llm=llm, tts=FakeToneTTS())
    with serve(app) as base:
        yield base.replace("http", "ws") + "/ws"


async def test_text_deltas_concatenate_to_the_turn_end_text(url: str) -> None:
    async with Client(url) as c:
        result = await c.ask("Tell me about the flat")
    assert result.end is not None
    assert result.end.status == "complete"
    assert result.text == result.end.text == REPLY


async def test_segments_in_order_cover_the_spoken_reply(url: str) -> None:
    async with Client(url) as c:
        result = await c.ask("Tell me about the flat")
    segments = result.segments
    assert len(segments) >= 3
    assert [s.segment_id for s, _, _ in segments] == list(range(len(segments)))
    assert segments[0][0].char_start == 0
    for (a, _, _), (b, _, _) in itertools.pairwise(segments):
        assert b.char_start == a.char_end
    assert "".join(s.text for s, _, _ in segments).strip() == REPLY.strip()
    assert segments[0][0].text.startswith("Sure,")


async def test_each_segments_audio_duration_matches_its_segment_end(url: str) -> None:
    async with Client(url) as c:
        result = await c.ask("Tell me about the flat")
    assert c.ready is not None
    rate = c.ready.audio.sample_rate
    for start, end, pcm in result.segments:
        assert end is not None, f"segment {start.segment_id} has no segment.end"
        samples = len(pcm) // 2
        assert samples == end.samples
        assert abs(samples * 1000 / rate - end.duration_ms) <= 1
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        assert np.sqrt(np.mean(audio**2)) > 500, "segment audio is silence"


async def test_word_timings_are_monotonic_and_inside_the_segment(url: str) -> None:
    async with Client(url) as c:
        result = await c.ask("Tell me about the flat")
    for start, end, _ in result.segments:
        assert end is not None
        assert end.words, "no word timings"
        last = 0
        for w in end.words:
            assert last <= w.start_ms <= w.end_ms <= end.duration_ms
            assert start.char_start <= w.char_start < w.char_end <= start.char_end
            assert w.text.strip("$,.") in REPLY[w.char_start : w.char_end]
            last = w.end_ms


async def test_audio_frames_carry_turn_segment_flags_and_increasing_seq(url: str) -> None:
    async with Client(url) as c:
        result = await c.ask("Tell me about the flat")
    seqs = [e.seq for _, e in result.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    frames = [e for _, e in result.events if isinstance(e, AudioFrame)]
    assert all(f.turn_id == result.turn_id for f in frames)
    by_segment: dict[int, list[AudioFrame]] = {}
    for f in frames:
        by_segment.setdefault(f.segment_id, []).append(f)
    for seg_frames in by_segment.values():
        assert seg_frames[0].flags & FrameFlags.SEGMENT_START
        assert seg_frames[-1].flags & FrameFlags.SEGMENT_END
        assert not any(f.flags & FrameFlags.SEGMENT_END for f in seg_frames[:-1])
        offsets = [f.sample_offset for f in seg_frames]
        sizes = [len(f.payload) // 2 for f in seg_frames]
        assert offsets == [sum(sizes[:i]) for i in range(len(sizes))]


async def test_first_audio_is_sent_before_the_llm_has_finished_the_reply(url: str) -> None:
    async with Client(url) as c:
        result = await c.ask("Tell me about the flat")
    first_audio = next(t for t, e in result.events if isinstance(e, AudioFrame))
    last_text = max(t for t, e in result.events if isinstance(e, TextDelta))
    # At 10 tokens/s the reply takes ~2.5 s to write; speech must start long before that.
    assert first_audio < last_text - 1.0


async def test_voice_false_turns_carry_no_audio(url: str) -> None:
    async with Client(url) as c:
        result = await c.ask("Tell me about the flat", voice=False)
    assert result.text == REPLY
    assert not any(isinstance(e, AudioFrame | SegmentStart | SegmentEnd) for _, e in result.events)


async def test_session_update_turns_voice_off_for_later_turns(url: str) -> None:
    async with Client(url) as c:
        await c.send_json({"type": "session.update", "voice": False})
        updated = await c.receive()
        assert isinstance(updated, SessionUpdated) and updated.voice is False
        result = await c.ask("hello")
    assert result.audio == b""


async def test_turn_cancel_stops_the_turn_and_no_audio_follows_turn_end(url: str) -> None:
    async with Client(url) as c:
        await c.send("Tell me about the flat")
        start = await c.receive()
        while not isinstance(start, TurnStart):
            start = await c.receive()
        while not isinstance(await c.receive(), AudioFrame):
            pass
        await c.cancel(start.turn_id, played_ms=300)
        events = []
        while True:
            e = await c.receive()
            events.append(e)
            if getattr(e, "type", None) == "turn.end":
                break
        end = events[-1]
        assert end.status == "interrupted"  # type: ignore[union-attr]
        assert end.played_ms == 300  # type: ignore[union-attr]
        assert len(end.text) < len(REPLY)  # type: ignore[union-attr]
        await c.send_json({"type": "ping", "id": "after"})
        after = await c.receive()
        assert isinstance(after, Pong) and after.id == "after"


async def test_a_new_user_message_interrupts_the_running_turn(url: str) -> None:
    async with Client(url) as c:
        await c.send("first")
        while not isinstance(await c.receive(), TextDelta):
            pass
        await c.send("second")
        ends = []
        while len(ends) < 2:
            e = await c.receive()
            if getattr(e, "type", None) == "turn.end":
                ends.append(e)
        assert [e.status for e in ends] == ["interrupted", "complete"]  # type: ignore[attr-defined]


async def test_unknown_type_gets_an_error_and_the_session_goes_on(url: str) -> None:
    async with Client(url) as c:
        await c.send_json({"type": "nonsense"})
        err = await c.receive()
        assert isinstance(err, Error) and err.code == "unknown_type"
        result = await c.ask("still there?", voice=False)
    assert result.text == REPLY


async def test_malformed_json_gets_invalid_json_error(url: str) -> None:
    async with connect(url, subprotocols=["voicewire.v1"]) as ws:  # type: ignore[list-item]
        await ws.recv()
        await ws.send("{not json")
        err = json.loads(await ws.recv())
        assert err["type"] == "error" and err["code"] == "invalid_json"


async def test_binary_frame_from_client_closes_with_1003(url: str) -> None:
    async with connect(url, subprotocols=["voicewire.v1"]) as ws:  # type: ignore[list-item]
        await ws.recv()
        await ws.send(b"\x01\x02\x03")
        err = json.loads(await ws.recv())
        assert err["code"] == "unexpected_binary"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003


async def test_oversized_text_frame_closes_with_1009(url: str) -> None:
    async with connect(url, subprotocols=["voicewire.v1"], max_size=None) as ws:  # type: ignore[list-item]
        await ws.recv()
        await ws.send("x" * 100_000)
        err = json.loads(await ws.recv())
        assert err["code"] == "frame_too_big"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_handshake_without_the_subprotocol_is_refused(url: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url):
            pass
    assert refused.value.response.status_code == 403


async def test_healthz_names_the_engines(url: str) -> None:
    import httpx

    base = url.replace("ws://", "http://").removesuffix("/ws")
    async with httpx.AsyncClient() as http:
        r = await http.get(base + "/healthz")
    assert r.json() == {
        "status": "ok",
        "protocol": "voicewire.v1",
        "llm": "scripted",
        "tts": "fake",
    }
