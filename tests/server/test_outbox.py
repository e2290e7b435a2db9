"""The writer and the replay log: every stamped frame is logged; frames the client has for sure
are forgotten; without a socket, frames are still stamped and kept for a resume."""

from __future__ import annotations

import asyncio
import json

import pytest
from starlette.websockets import WebSocketState

from tests.waiting import until
from voicewire.protocol.messages import Pong
from voicewire.protocol.session import Session
from voicewire.resume import Control, SessionState
from voicewire.resume.memory import MemoryHub
from voicewire.server import outbox as outbox_module
from voicewire.server.metrics import Metrics
from voicewire.server.outbox import End, Outbox
from voicewire.tts.fake import FakeToneTTS


class RecordingSocket:
    """Takes every frame at once and remembers it."""

    application_state = WebSocketState.CONNECTED

    def __init__(self) -> None:
        self.frames: list[str | bytes] = []

    async def send_text(self, data: str) -> None:
        self.frames.append(data)

    async def send_bytes(self, data: bytes) -> None:
        self.frames.append(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.application_state = WebSocketState.DISCONNECTED


async def ignore(control: Control) -> None:
    return None


class Clock:
    """The outbox's `time` module, stopped: a frame's age changes only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


async def test_the_log_keeps_only_frames_not_yet_surely_delivered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(outbox_module, "time", clock)
    hub = MemoryHub(ttl_s=60, cap=100)
    session = Session("s1")
    socket = RecordingSocket()
    out = Outbox(
        socket,  # type: ignore[arg-type]
        session,
        Metrics(FakeToneTTS()),
        maxsize=16,
        send_timeout_s=1,
        # The idle writer looks at the clock this often (loop time); ages come from `clock`.
        delivered_after_s=0.01,
    )
    state = SessionState(session_id="s1", subject="u", conversation_id="", seq=0, next_turn=1)
    out.log = await hub.open(state, ignore)
    frames = hub.logs["s1"].frames
    writer = asyncio.create_task(out.run())

    out.put_now(Pong(id="a"))
    out.put_now(Pong(id="b"))
    await until(lambda: len(socket.frames) == 2, "both frames to be sent")
    assert [f.seq for f in frames] == [1, 2]  # sent just now: a resume may still need them
    assert [f.data for f in frames] == socket.frames  # logged exactly as sent
    clock.now += 1  # older than delivered_after_s on an open socket: the client has them
    await until(lambda: not frames, "the delivered frames to be forgotten")

    out.detach()  # the client went: nothing is delivered any more, everything is kept
    out.put_now(Pong(id="c"))
    out.put_now(Pong(id="d"))
    clock.now += 1
    out.put_now(End())
    await writer  # everything queued before End is logged, and the writer has stopped
    assert [f.seq for f in frames] == [3, 4]
    assert len(socket.frames) == 2


def outbox(socket: RecordingSocket, maxsize: int) -> Outbox:
    return Outbox(
        socket,  # type: ignore[arg-type]
        Session("s"),
        Metrics(FakeToneTTS()),
        maxsize=maxsize,
        send_timeout_s=60,
    )


@pytest.mark.parametrize("maxsize", [1, 2])
async def test_a_frame_queued_at_once_on_a_full_queue_loses_no_frame_already_queued(
    maxsize: int,
) -> None:
    # Defect 11: put_now evicted the oldest live frame (and raised QueueFull with a queue of one).
    socket = RecordingSocket()
    out = outbox(socket, maxsize)
    for i in range(maxsize):
        await out.put(Pong(id=f"live-{i}"))
    out.put_now(Pong(id="now"))
    out.put_now(End())
    await asyncio.wait_for(out.run(), 30)
    ids = [json.loads(frame)["id"] for frame in socket.frames]
    assert ids == [f"live-{i}" for i in range(maxsize)] + ["now"]
    assert [json.loads(frame)["seq"] for frame in socket.frames] == list(range(1, maxsize + 2))


async def test_producers_wait_while_the_queue_is_full_and_go_on_as_it_drains() -> None:
    socket = RecordingSocket()
    out = outbox(socket, 2)
    await out.put(Pong(id="a"))
    await out.put(Pong(id="b"))
    third = asyncio.create_task(out.put(Pong(id="c")))
    await asyncio.sleep(0)
    assert not third.done()  # backpressure: the queue is full
    writer = asyncio.create_task(out.run())
    await asyncio.wait_for(third, 30)
    out.put_now(End())
    await asyncio.wait_for(writer, 30)
    assert [json.loads(frame)["id"] for frame in socket.frames] == ["a", "b", "c"]
