"""The ASGI app: engines and the store opened once, `/ws`, HTTP, demo page.

They open in the lifespan, or on the first request when the app is mounted in another one
(Starlette runs no mounted app's lifespan).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, WebSocket
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from voicewire import __version__
from voicewire.config import Settings
from voicewire.engines import build_llm, build_tts
from voicewire.llm.base import LLM
from voicewire.responder import Responder, llm_responder, load_responder
from voicewire.resume import Hub
from voicewire.resume.memory import MemoryHub
from voicewire.server.auth import TokenSigner, load_secret
from voicewire.server.compat import router as compat_router
from voicewire.server.handshake import ConnectionLimits
from voicewire.server.http import router
from voicewire.server.metrics import Metrics
from voicewire.server.persist import Writes
from voicewire.server.voice_input import LazySTT
from voicewire.server.ws import Connection
from voicewire.storage import Store
from voicewire.tts.base import TTS

if TYPE_CHECKING:
    from voicewire.stt.base import STT

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent.parent / "web"


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


def create_app(
    settings: Settings | None = None,
    *,
    llm: LLM | None = None,
    tts: TTS | None = None,
    responder: Responder | None = None,
    stt: STT | None = None,
) -> FastAPI:
    """Build the app; engines given here are used as they are, the rest are built by name.

    `responder` answers each turn (default: the LLM, or `settings.app` when it names one).
    """
    settings = settings or Settings()
    if responder is None:
        responder = load_responder(settings.app) if settings.app else llm_responder

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Load once per process, before the first connection, so a broken engine fails the
        # start-up with a clear message instead of failing a turn later.
        engines = llm or build_llm(settings), tts or build_tts(settings)
        hub = build_hub(settings)
        await hub.start()
        url = settings.resolved_database_url()
        # Replies other live processes are generating are theirs: only dead ones' are failed.
        store = await Store.open(url, alive=hub.alive) if settings.persist else None
        writes = Writes()
        signer = TokenSigner(load_secret(settings.secret, settings.data_dir))
        limits = ConnectionLimits(settings.max_connections, settings.max_connections_per_identity)
        metrics = Metrics(engines[1])
        app.state.services = Services(
            settings,
            *engines,
            store,
            signer,
            writes,
            responder,
            limits,
            metrics,
            LazySTT(settings, stt),
            hub,
        )
        if settings.stt_preload:
            await app.state.services.stt.preload()
        log.info("voicewire ready: llm=%s tts=%s", engines[0].name, engines[1].name)
        try:
            yield
        finally:
            await writes.drain()
            await hub.close()
            if store is not None:
                await store.close()

    app = FastAPI(title="voicewire", version=__version__, lifespan=lifespan)
    app.add_middleware(_LazyServices, owner=app)
    app.include_router(router)
    app.include_router(compat_router)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await Connection(websocket, app.state.services).run()

    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app


def app_from_env() -> FastAPI:
    """The app of one worker process of `voicewire serve --workers N`, from VOICEWIRE_* settings."""
    return create_app(Settings())


def build_hub(settings: Settings) -> Hub:
    """Where replay logs live: Redis when configured (any process resumes), else memory."""
    ttl, cap = settings.resume_ttl_s, settings.resume_buffer_frames
    if settings.redis_url:
        from voicewire.resume.redis import RedisHub

        return RedisHub(settings.redis_url, ttl_s=ttl, cap=cap)
    return MemoryHub(ttl_s=ttl, cap=cap)


@asynccontextmanager
async def voicewire_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """A voicewire app's start-up and shutdown, for the lifespan of the app it is mounted in.

    Starlette does not run a mounted app's lifespan; entering this one from the parent's
    opens the engines and the store at start-up and drains pending writes at shutdown.
    """
    async with app.router.lifespan_context(app):
        yield


class _LazyServices:
    """Opens the services on first use when no lifespan ran (the app is mounted in another).

    The lifespan itself runs, in a task of its own, so both paths build exactly the same
    services. The task holds them open until the event loop shuts down and cancels it, which
    closes them as the lifespan would (pending writes drained, store closed).
    """

    def __init__(self, asgi: ASGIApp, *, owner: FastAPI) -> None:
        self.asgi = asgi
        self.owner = owner
        self.lock = asyncio.Lock()  # concurrent first requests open the services once
        self.holder: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.owner.state
        if scope["type"] in ("http", "websocket") and not hasattr(state, "services"):
            async with self.lock:
                if not hasattr(state, "services"):
                    opened = asyncio.get_running_loop().create_future()
                    self.holder = asyncio.create_task(self._hold(opened))
                    await opened  # a start-up error fails this request; the next one retries
        await self.asgi(scope, receive, send)

    async def _hold(self, opened: asyncio.Future[None]) -> None:
        try:
            async with voicewire_lifespan(self.owner):
                opened.set_result(None)
                await asyncio.Event().wait()  # until the loop shuts down
        except Exception as exc:
            if opened.done():
                raise
            opened.set_exception(exc)
        finally:
            if not opened.done():
                opened.cancel()
