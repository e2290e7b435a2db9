"""Running one reply through a cuttable connection, and what "the same reply" means."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from tests.cutproxy import CutProxy
from voicewire.client import Client
from voicewire.client.connection import Event
from voicewire.protocol.frames import AudioFrame
from voicewire.protocol.messages import SessionResumed, TextDelta, TurnEnd, TurnStart

REPLY = (
    "Sure, here is the plan for tomorrow. We leave the flat at eight and take the train to the "
    "coast, which takes about an hour. In the morning we walk along the cliffs to the old "
    "lighthouse, and at noon we eat at the harbour. After lunch there is time for a swim, or "
    "for the museum if it rains. We are back in town by six, in time for dinner."
)


def streams(events: list[Event]) -> dict[str, list[str | bytes]]:
    """Each kind of event in its order, as on the wire but without `seq`.

    How text deltas and speech interleave depends on timing (the LLM and the voice run side by
    side), so two runs of one reply are compared stream by stream; within a stream every frame
    must be byte for byte the same.
    """
    out: dict[str, list[str | bytes]] = {}
    for event in events:
        if isinstance(event, AudioFrame):
            out.setdefault("audio", []).append(dataclasses.replace(event, seq=0).encode())
        else:
            unstamped = event.model_copy(update={"seq": 0})
            out.setdefault(event.type, []).append(unstamped.model_dump_json(exclude_none=True))
    return out


async def one_turn(
    client: Client,
    text: str = "What is the plan?",
    *,
    cut: Callable[[int], bool] | None = None,
    proxy: CutProxy | None = None,
    half_open: bool = False,
) -> list[Event]:
    """Send `text` and receive up to its `turn.end`; `cut(n)` true after the n-th audio frame
    cuts the proxy. Returns every event received from `turn.start` on, resumes excluded."""
    await client.send(text, message_id="q-" + "-".join(text.lower().split()))
    events: list[Event] = []
    audio_frames = 0
    started = False
    while True:
        event = await client.receive()
        if isinstance(event, TurnStart):
            started = True
        if not started or isinstance(event, SessionResumed):
            continue
        events.append(event)
        if isinstance(event, AudioFrame):
            audio_frames += 1
            if cut is not None and proxy is not None and cut(audio_frames):
                proxy.cut(half_open=half_open)
        if isinstance(event, TurnEnd):
            return events


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def audio_of(events: list[Event]) -> bytes:
    return b"".join(e.payload for e in events if isinstance(e, AudioFrame))


def seqs_of(events: list[Event]) -> list[int]:
    return [e.seq for e in events]


def assert_consecutive(*runs: list[Event]) -> None:
    """The events' seqs go up by one: no frame missing, none repeated."""
    seqs = [seq for events in runs for seq in seqs_of(events)]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a frame missing or repeated"
