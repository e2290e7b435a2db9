"""The ASGI app: engines loaded once in the lifespan, `/ws`, `/healthz`, and the demo page."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, WebSocket
from fastapi.staticfiles import StaticFiles

from voicewire import __version__
from voicewire.config import Settings
from voicewire.engines import build_llm, build_tts
from voicewire.llm.base import LLM
from voicewire.protocol.messages import PROTOCOL_VERSION
from voicewire.server.ws import Connection
from voicewire.tts.base import TTS

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent.parent / "web"


@dataclass(frozen=True, slots=True)
class Engines:
    settings: Settings
    llm: LLM
    tts: TTS


def create_app(
    settings: Settings | None = None, *, llm: LLM | None = None, tts: TTS | None = None
) -> FastAPI:
    """Build the app; engines given here are used as they are, the rest are built by name."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Load once per process, before the first connection, so a broken engine fails the
        # start-up with a clear message instead of failing a turn later.
        engines = Engines(settings, llm or build_llm(settings), tts or build_tts(settings))
        app.state.engines = engines
        log.info("voicewire ready: llm=%s tts=%s", engines.llm.name, engines.tts.name)
        yield

    app = FastAPI(title="voicewire", version=__version__, lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        engines: Engines = app.state.engines
        return {
            "status": "ok",
            "protocol": PROTOCOL_VERSION,
            "llm": engines.llm.name,
            "tts": engines.tts.name,
        }

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await Connection(websocket, app.state.engines).run()

    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app
