"""What every endpoint shares, built once per process: engines, store, hub, limits, metrics.

Nothing here imports an endpoint or the app: the endpoints (`ws.py`, `compat.py`, `http.py`)
import `Services`, and `app.py` opens them in its lifespan with `open_services`.
"""

from __future__ import annotations

import gc
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from voicewire.codecs import CODECS, SAMPLE_RATES, output_rate
from voicewire.config import Settings
from voicewire.engines import build_llm, build_tts
from voicewire.llm.base import LLM
from voicewire.protocol.messages import AudioFormat, Limits, VoiceEntry
from voicewire.protocol.session import Session
from voicewire.responder import Responder
from voicewire.resume import Hub
from voicewire.resume.memory import MemoryHub
from voicewire.server.auth import TokenSigner, load_secret
from voicewire.server.limits import ConnectionLimits
from voicewire.server.metrics import Metrics
from voicewire.server.speech_load import SpeechLoad
from voicewire.server.voice_input import LazySTT
from voicewire.server.writes import Writes
from voicewire.storage import Store
from voicewire.storage.engine import Timeouts
from voicewire.tasks import bounded
from voicewire.tts.base import TTS, voice_catalog

if TYPE_CHECKING:
    from voicewire.stt.base import STT
    from voicewire.tools import Toolbox

log = logging.getLogger(__name__)
# How long the shutdown waits for the connections uvicorn cancelled to end (their last writes).
CONNECTIONS_END_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a connection needs, built once per process."""

    settings: Settings
    llm: LLM
    tts: TTS
    store: Store | None
    signer: TokenSigner
    writes: Writes
    responder: Responder
    connections: ConnectionLimits
    metrics: Metrics
    stt: LazySTT
    hub: Hub
    speech: SpeechLoad  # which turns are spoken: demand within the synthesis capacity
    tools: Toolbox | None = None  # the tools registered with the server (voicewire.tools)

    def new_session(self) -> Session:
        """A new protocol session, offering this server's voices, codecs and limits."""
        s, tts = self.settings, self.tts
        # Asked now: a voice that failed to load is no longer offered to new sessions.
        voices = voice_catalog(tts)
        return Session(
            uuid.uuid4().hex,
            audio=AudioFormat(sample_rate=voices[0].sample_rate if voices else tts.sample_rate),
            voices=tuple(v.name for v in voices),
            voice_info=tuple(
                VoiceEntry(name=v.name, language=v.language, sample_rate=v.sample_rate)
                for v in voices
            ),
            codecs=CODECS,
            sample_rates=SAMPLE_RATES | {tts.sample_rate} | {v.sample_rate for v in voices},
            output_rate=output_rate,
            limits=Limits(
                max_text_frame_bytes=s.max_text_frame_bytes,
                max_message_chars=s.max_message_chars,
                max_messages_per_second=s.max_messages_per_second,
            ),
        )


@asynccontextmanager
async def open_services(
    settings: Settings,
    responder: Responder,
    *,
    llm: LLM | None = None,
    tts: TTS | None = None,
    stt: STT | None = None,
    tools: Toolbox | None = None,
) -> AsyncIterator[Services]:
    """Load the engines and open the store and hub; on exit, drain writes and close them, in
    at most `shutdown_timeout_s`.

    Loaded once per process, before the first connection, so a broken engine fails the
    start-up with a clear message instead of failing a turn later.
    """
    llm = llm or build_llm(settings)
    tts = tts or build_tts(settings)
    hub = build_hub(settings)
    await hub.start()
    store = None
    writes = Writes()
    connections = ConnectionLimits(settings.max_connections, settings.max_connections_per_identity)
    try:
        if settings.persist:
            # Replies other live processes are generating are theirs: only dead ones' are failed.
            url, timeouts = settings.resolved_database_url(), store_timeouts(settings)
            store = await Store.open(url, alive=hub.alive, timeouts=timeouts)
        services = Services(
            settings=settings,
            llm=llm,
            tts=tts,
            store=store,
            signer=TokenSigner(load_secret(settings.secret, settings.data_dir)),
            writes=writes,
            responder=responder,
            connections=connections,
            metrics=Metrics(tts),
            stt=LazySTT(settings, stt),
            hub=hub,
            speech=SpeechLoad.of(settings, tts),
            tools=tools,
        )
        services.metrics.watch_speech(services.speech)
        if settings.stt_preload:
            await services.stt.preload()
        if settings.gc_freeze:
            gc.collect()
            gc.freeze()
        log.info("voicewire ready: llm=%s tts=%s", llm.name, tts.name)
        yield services
    finally:
        if settings.gc_freeze:
            gc.unfreeze()  # what this process made for the services may be collected again
        # uvicorn waits for the lifespan's shutdown with no timeout: whatever hangs in it, the
        # shutdown must go on (with the stacks of what hung in its log).
        closing = _close(settings, connections, writes, hub, store)
        await bounded(closing, settings.shutdown_timeout_s, "the services' shutdown")


async def _close(
    settings: Settings,
    connections: ConnectionLimits,
    writes: Writes,
    hub: Hub,
    store: Store | None,
) -> None:
    # uvicorn cancels the connections still open at its graceful timeout without waiting for
    # them, and starts this shutdown at once: their ends queue their replies' closing writes
    # (a connection's slot is released after), so the drain waits for those ends first.
    if not await connections.all_closed(CONNECTIONS_END_TIMEOUT_S):
        log.error("%d connection(s) had not ended when the writes were drained", connections.count)
    await writes.drain(settings.write_drain_timeout_s)
    await hub.close()
    if store is not None:
        await store.close()


def store_timeouts(settings: Settings) -> Timeouts:
    """Each statement's bounds on PostgreSQL (0 in the settings: no bound)."""
    return Timeouts(
        lock_s=settings.database_lock_timeout_s or None,
        command_s=settings.database_command_timeout_s or None,
    )


def build_hub(settings: Settings) -> Hub:
    """Where replay logs live: Redis when configured (any process resumes), else memory."""
    ttl, cap = settings.resume_ttl_s, settings.resume_buffer_frames
    if settings.redis_url:
        from voicewire.resume.redis import RedisHub

        return RedisHub(settings.redis_url, ttl_s=ttl, cap=cap)
    return MemoryHub(ttl_s=ttl, cap=cap)
