"""The ASGI app: engines and the store opened once, `/ws`, HTTP, demo page.

They open in the lifespan, or on the first request when the app is mounted in another one
(Starlette runs no mounted app's lifespan).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, WebSocket
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from voicewire import __version__
from voicewire.config import Settings
from voicewire.llm.base import LLM
from voicewire.responder import Responder, llm_responder, load_responder
from voicewire.server.compat import router as compat_router
from voicewire.server.http import router
from voicewire.server.realtime import router as realtime_router
from voicewire.server.services import Services, open_services
from voicewire.server.ws import Connection
from voicewire.tools import Tool, Toolbox
from voicewire.tools.registry import load_tools
from voicewire.tts.base import TTS

if TYPE_CHECKING:
    from voicewire.stt.base import STT

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent.parent / "web"
__all__ = ["Services", "app_from_env", "create_app", "voicewire_lifespan"]


def create_app(
    settings: Settings | None = None,
    *,
    llm: LLM | None = None,
    tts: TTS | None = None,
    responder: Responder | None = None,
    stt: STT | None = None,
    tools: Toolbox | Iterable[Tool] | None = None,
) -> FastAPI:
    """Build the app; engines given here are used as they are, the rest are built by name.

    `responder` answers each turn (default: the LLM, or `settings.app` when it names one);
    `tools` are offered to the LLM in every turn (`ctx.tools`; see voicewire.tools; default:
    `settings.tools` when it names some).
    """
    settings = settings or Settings()
    if tools is None and settings.tools:
        tools = load_tools(settings.tools)
    elif tools is not None and not isinstance(tools, Toolbox):
        tools = Toolbox.of(tools)
    if responder is None:
        responder = load_responder(settings.app) if settings.app else llm_responder

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(
            settings, responder, llm=llm, tts=tts, stt=stt, tools=tools
        ) as services:
            app.state.services = services
            yield

    app = FastAPI(title="voicewire", version=__version__, lifespan=lifespan)
    app.add_middleware(_LazyServices, owner=app)
    app.include_router(router)
    app.include_router(compat_router)
    app.include_router(realtime_router)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await Connection(websocket, app.state.services).run()

    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app


def app_from_env() -> FastAPI:
    """The app of one worker process of `voicewire serve --workers N`, from VOICEWIRE_* settings."""
    return create_app(Settings())


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
