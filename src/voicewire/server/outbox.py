"""The send side of a session: one bounded queue, one writer task that owns the socket's sends.

The Session stamps `seq` at the moment a frame is written, so `seq` order is wire order; each
stamped frame goes to the session's replay log first (PROTOCOL.md §8), then to the socket.
When the queue holds `maxsize` items, `put` waits (backpressure: a turn pauses); `put_now` never
waits and never evicts anything: it is for the few frames that must follow at once (a turn's
end, an error, a close), and a cut-off client bounds them. When the socket takes nothing for
`send_timeout_s` the client is cut off with close code 4001. Audio of a cancelled turn still in
the queue is dropped, so nothing of a turn follows its `turn.end`.

When the client goes the writer goes on without a socket ("detached"): frames are still
stamped and logged, for the client to get them when it resumes. It stops at `End`.

The log forgets frames the client has for sure: those sent `delivered_after_s` ago on a
socket that is still open. WebSocket pings every `ping_interval_s` close a socket whose peer
does not answer the next one, and an answer means everything sent before it arrived; so
`delivered_after_s` = 2 × `ping_interval_s` + a margin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prometheus_client import Histogram
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.messages import Error, ServerMessage, TextDelta, TurnEnd
from voicewire.protocol.session import Session
from voicewire.resume import ReplayLog
from voicewire.server.metrics import Metrics
from voicewire.server.services import Services
from voicewire.turn import AudioOut

log = logging.getLogger(__name__)
DRAIN_S = 2.0  # when a session ends, its queued frames get this long to reach the socket


@dataclass(frozen=True, slots=True)
class Close:
    """Close the socket (the writer goes on, detached, until `End`)."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Raw:
    """A frame sent as it is: replayed from a log, or `session.resumed` (no new seq)."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class End:
    """Everything queued before it is written (or logged): the writer stops."""


Item = ServerMessage | AudioOut | Close | Raw | End
# Turns an event into the frames that carry it: voicewire.v1's (the default: one frame, stamped
# by the Session) or another wire format's (the compat endpoint's JSON shapes).
Framer = Callable[[ServerMessage | AudioOut], Sequence[str | bytes]]


class Outbox:
    def __init__(
        self,
        ws: WebSocket,
        session: Session,
        metrics: Metrics,
        *,
        maxsize: int,
        send_timeout_s: float,
        delivered_after_s: float = 45.0,
        framer: Framer | None = None,
    ) -> None:
        self.ws, self.session, self.metrics = ws, session, metrics
        self.framer = framer or self._frame
        self.maxsize = max(1, maxsize)
        self.items: deque[Item] = deque()
        self._not_empty = asyncio.Event()
        self._not_full = asyncio.Event()
        self._not_full.set()
        self.send_timeout_s = send_timeout_s
        self.dropped: set[int] = set()  # cancelled turns whose queued audio is discarded
        # Per running turn: when its user message arrived, until its first text / audio left.
        self.waiting_text: dict[int, float] = {}
        self.waiting_audio: dict[int, float] = {}
        self.log: ReplayLog | None = None
        self.attached = True  # False once the socket is closed, failed or taken over
        self.gone = asyncio.Event()  # set with attached = False: the session goes on without it
        self.delivered_after_s = delivered_after_s
        self.sent: deque[tuple[float, int]] = deque()  # (when, seq) of frames sent
        self._sending: asyncio.Future[None] | None = None

    async def put(self, item: Item) -> None:
        """Queue `item`, waiting while the queue is full."""
        while len(self.items) >= self.maxsize:
            self._not_full.clear()
            await self._not_full.wait()
        self._push(item)

    def put_now(self, item: Item) -> None:
        """Queue `item` at once, over the bound if need be; nothing queued is lost."""
        self._push(item)

    def drop(self, turn_id: int) -> None:
        """The turn was cancelled: its queued audio goes, and any that comes later."""
        self.dropped.add(turn_id)
        kept = [i for i in self.items if not (isinstance(i, AudioOut) and i.turn_id == turn_id)]
        if len(kept) != len(self.items):
            self.items = deque(kept)
            self._wake()

    def _push(self, item: Item) -> None:
        self.items.append(item)
        self._not_empty.set()

    async def _get(self) -> Item:
        while not self.items:
            self._not_empty.clear()
            await self._not_empty.wait()
        item = self.items.popleft()
        self._wake()
        return item

    def _wake(self) -> None:
        if len(self.items) < self.maxsize:
            self._not_full.set()

    def turn_started(self, turn_id: int, *, voice: bool) -> None:
        self.waiting_text[turn_id] = time.monotonic()
        if voice:
            self.waiting_audio[turn_id] = self.waiting_text[turn_id]

    def detach(self, close: Close | None = None) -> None:
        """Stop using the socket now (a send in progress is abandoned); close it if asked."""
        if not self.attached:
            return
        self._lose()
        if self._sending is not None:
            self._sending.cancel()
        if close is not None:
            task = asyncio.create_task(self._close(close))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def finish(self, writer: asyncio.Task[None]) -> None:
        """End the session's writer (`writer` runs `run()`): what is queued goes out within
        `DRAIN_S`, then the socket is closed normally (unless a close was queued before)."""
        self.put_now(Close(CloseCode.NORMAL, ""))
        self.put_now(End())
        await asyncio.wait({writer}, timeout=DRAIN_S)
        writer.cancel()

    async def run(self) -> None:
        """The writer: until `End`. Socket failures detach it; they do not stop it."""
        while True:
            if not self.items and self.sent:
                try:  # idle: frames still kept for a resume become delivered as time passes
                    async with asyncio.timeout(self.delivered_after_s):
                        item = await self._get()
                except TimeoutError:
                    self._forget_delivered()
                    continue
            else:
                item = await self._get()
            if isinstance(item, End):
                return
            if isinstance(item, Close):
                if self.attached:
                    self._lose()
                    await self._close(item)
                continue
            if isinstance(item, Raw):
                if self.attached:
                    await self._send(item.data)
                continue
            if isinstance(item, AudioOut) and item.turn_id in self.dropped:
                continue
            self._measure(item)  # whatever the wire format: every endpoint's metrics
            for frame in self.framer(item):
                if self.log is not None:
                    self.log.append(self.session.seq, frame)
                if self.attached:
                    await self._send(frame)
                    if self.log is not None:
                        self.sent.append((time.monotonic(), self.session.seq))
                        self._forget_delivered()

    def _forget_delivered(self) -> None:
        now = time.monotonic()
        sent = self.sent
        delivered = 0
        while sent and now - sent[0][0] > self.delivered_after_s:
            delivered = sent.popleft()[1]
        if delivered and self.log is not None and self.attached:
            self.log.trim(delivered)

    async def _send(self, frame: str | bytes) -> None:
        ws = self.ws
        sending = asyncio.ensure_future(
            ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_text(frame)
        )
        self._sending = sending
        try:
            async with asyncio.timeout(self.send_timeout_s):
                await sending
        except TimeoutError:
            # The client reads nothing: stop buffering for it. The close frame may not get
            # through a full socket; the transport is dropped either way.
            log.warning("session %s: slow consumer cut off", self.session.session_id)
            self._lose()
            await self._close(Close(CloseCode.SLOW_CONSUMER, ErrorCode.SLOW_CONSUMER))
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            # detach() abandoned this send.
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            log.debug("session %s: socket gone: %r", self.session.session_id, exc)
            self._lose()
        finally:
            self._sending = None

    def _lose(self) -> None:
        self.attached = False
        self.gone.set()

    async def _close(self, close: Close) -> None:
        with contextlib.suppress(Exception):
            if self.ws.application_state == WebSocketState.CONNECTED:
                async with asyncio.timeout(1.0):
                    await self.ws.close(close.code, close.reason)

    def _measure(self, item: ServerMessage | AudioOut) -> None:
        metrics = self.metrics
        if isinstance(item, AudioOut):
            _observe(self.waiting_audio, item.turn_id, metrics.ttfa)
        elif isinstance(item, TextDelta):
            _observe(self.waiting_text, item.turn_id, metrics.ttft)
        elif isinstance(item, Error):
            metrics.errors.labels(item.code).inc()
        elif isinstance(item, TurnEnd):
            self.waiting_text.pop(item.turn_id, None)
            self.waiting_audio.pop(item.turn_id, None)

    def _frame(self, item: ServerMessage | AudioOut) -> Sequence[str | bytes]:
        session = self.session
        if isinstance(item, AudioOut):
            if item.turn_id in self.dropped or not session.is_running(item.turn_id):
                return ()
            frame = session.audio(
                item.turn_id,
                item.segment_id,
                item.payload,
                sample_offset=item.sample_offset,
                flags=item.flags,
            )
            return (frame,)
        return (session.send(item),)


def _observe(waiting: dict[int, float], turn_id: int, histogram: Histogram) -> None:
    since = waiting.pop(turn_id, None)
    if since is not None:
        histogram.observe(time.monotonic() - since)


def session_outbox(
    ws: WebSocket, session: Session, services: Services, *, framer: Framer | None = None
) -> Outbox:
    """A connection's send side, bounded by the server's settings (every endpoint's)."""
    s = services.settings
    return Outbox(
        ws,
        session,
        services.metrics,
        maxsize=s.send_queue_frames,
        send_timeout_s=s.send_timeout_s,
        delivered_after_s=2 * s.ping_interval_s + 5,
        framer=framer,
    )
