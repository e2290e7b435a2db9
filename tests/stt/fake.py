"""A fake STT engine, a fake clock and a recorder of what a Microphone says, for tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from voicewire.protocol.messages import Error
from voicewire.stt import STTError, Transcript


class FakeStream:
    def __init__(self, engine: FakeSTT) -> None:
        self.engine = engine
        self.fed = 0  # bytes of audio taken
        self.closed = False
        self.finished = False

    async def feed(self, pcm: bytes) -> Transcript | None:
        if self.finished:
            raise STTError("the utterance is already finished")
        if self.engine.fail_feed:
            raise STTError("the remote STT server is down")
        self.fed += len(pcm)
        return Transcript("hello", final=False)

    async def finish(self) -> Transcript:
        if self.finished:
            raise STTError("the utterance is already finished")
        self.finished = True
        if self.engine.fail_finish:
            raise STTError("the remote STT server is down")
        return Transcript("hello world", final=True)

    async def aclose(self) -> None:
        self.closed = True


class FakeSTT:
    """A fake engine: every stream hears "hello", and "hello world" in the end; it fails on
    demand, and records which thread opened each stream."""

    name = "fake"
    sample_rate = 16000

    def __init__(self, *, fail_feed: bool = False, fail_finish: bool = False) -> None:
        self.fail_feed = fail_feed
        self.fail_finish = fail_finish
        self.streams: list[FakeStream] = []
        self.opened_on: list[int] = []  # thread ids
        self.warmed: list[tuple[int, int]] = []  # (count, thread id) of each warm()

    def stream(self, *, sample_rate: int) -> FakeStream:
        self.opened_on.append(threading.get_ident())
        stream = FakeStream(self)
        self.streams.append(stream)
        return stream

    def warm(self, count: int) -> None:
        self.warmed.append((count, threading.get_ident()))

    @property
    def fed(self) -> int:
        return sum(s.fed for s in self.streams)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Heard:
    """What a Microphone told its connection, in order."""

    events: list[tuple[str, ...]] = field(default_factory=list)

    async def speech(self, utterance_id: str) -> None:
        self.events.append(("speech", utterance_id))

    async def transcript(self, utterance_id: str, text: str, final: bool) -> None:
        self.events.append(("final" if final else "partial", utterance_id, text))

    async def error(self, error: Error) -> None:
        self.events.append(("error", error.code))

    def errors(self) -> list[str]:
        return [e[1] for e in self.events if e[0] == "error"]

    def finals(self) -> list[str]:
        return [e[2] for e in self.events if e[0] == "final"]
