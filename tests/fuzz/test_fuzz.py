"""Fuzzing: the Session and the live endpoint never fail on any input (CI: > 10,000 examples)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import serve
from voicewire.bench.fuzz import SEEDS, run_session
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.messages import CLIENT_TYPES, Limits
from voicewire.protocol.session import MicrophoneAudio, Session, Violation
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
messages = st.builds(
    lambda seed, extra: {**seed, **extra},
    st.sampled_from(SEEDS),
    st.dictionaries(
        st.sampled_from(["type", "id", "text", "voice", "turn_id", "played_ms", "rate", "codec"]),
        json_values,
        max_size=3,
    ),
)
text_frames = st.one_of(
    st.text(max_size=200), messages.map(json.dumps), json_values.map(json.dumps)
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.1
        return self.now


@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(frames=st.lists(st.one_of(text_frames, st.binary(max_size=64)), min_size=1, max_size=4))
def test_the_session_answers_every_input_with_a_message_or_a_violation(
    frames: list[str | bytes],
) -> None:
    session = Session("fuzz", voices=("joe",), limits=Limits(), clock=Clock())
    session.new_turn()
    for frame in frames:
        if isinstance(frame, bytes):
            results = session.receive_bytes(frame)
        else:
            results = session.receive_text(frame)
        for item in results:
            if isinstance(item, MicrophoneAudio):
                assert len(item.pcm) % 2 == 0 and item.sample_rate >= 8000
                continue
            assert isinstance(item, Violation) or item.type in CLIENT_TYPES
            if isinstance(item, Violation):
                assert item.error.code and item.error.message


def test_ten_thousand_mutated_frames_raise_nothing() -> None:
    counts = run_session(10_000, seed=7)
    assert counts["inputs"] == 10_000
    assert counts["exceptions"] == 0
    assert sum(v for k, v in counts.items() if k.startswith("accepted:")) > 500


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    llm = ScriptedLLM("Short reply, here it is.", tokens_per_second=500, first_token_ms=1)
    app = create_app(
        Settings(llm="scripted", tts="fake", data_dir=tmp_path_factory.mktemp("d")),
        llm=llm,
        tts=FakeToneTTS(),
    )
    with serve(app) as base:
        yield base.replace("http", "ws", 1) + "/ws"


async def drain(ws: Any) -> None:
    """Until the server has handled every frame sent before: a ping's pong, or the close.

    Frames are handled in order, so the pong of a ping sent last comes after the answers to
    all of them (its id is one no random frame can carry).
    """
    try:
        await ws.send(json.dumps({"type": "ping", "id": BARRIER}))
        while True:
            data = await ws.recv()
            if isinstance(data, str) and BARRIER in data:
                message = json.loads(data)
                if message.get("type") == "pong" and message.get("id") == BARRIER:
                    return
    except ConnectionClosed:
        return


BARRIER = "drain-barrier-0f4c"


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(frames=st.lists(st.one_of(text_frames, st.binary(max_size=64)), min_size=1, max_size=5))
def test_the_live_endpoint_survives_random_frames(
    url: str, frames: list[str | bytes], caplog: pytest.LogCaptureFixture
) -> None:
    async def attack() -> None:
        async with connect(url, subprotocols=["voicewire.v1"]) as ws:  # type: ignore[list-item]
            await ws.recv()
            for frame in frames:
                try:
                    await ws.send(frame)
                except ConnectionClosed:
                    return
            await drain(ws)

    with caplog.at_level(logging.ERROR):
        asyncio.run(attack())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "server logged errors"


async def test_after_the_fuzzing_the_server_still_answers(url: str) -> None:
    async with Client(url) as c:
        result = await c.ask("hello")
    assert result.end is not None and result.end.status == "complete" and result.audio
