"""voicewire mounted inside an existing FastAPI app, with and without the parent's lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import serve
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.server import services as services_module
from voicewire.server.app import create_app, voicewire_lifespan
from voicewire.tts.fake import FakeToneTTS

REPLY = "Hello from the mounted app. It speaks as well as it writes."


def voice_app(tmp_path: Path) -> FastAPI:
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path)
    llm = ScriptedLLM(REPLY, tokens_per_second=200, first_token_ms=10)
    return create_app(settings, llm=llm, tts=FakeToneTTS())


def parent_app(voice: FastAPI, *, lifespan: bool) -> FastAPI:
    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        async with voicewire_lifespan(voice):
            yield

    parent = FastAPI(lifespan=run if lifespan else None)

    @parent.get("/hello")
    async def hello() -> dict[str, str]:
        return {"from": "parent"}

    parent.mount("/voice", voice)
    return parent


async def test_a_mounted_app_without_its_lifespan_answers_on_its_socket(tmp_path: Path) -> None:
    voice = voice_app(tmp_path)
    with serve(parent_app(voice, lifespan=False)) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/hello")).json() == {"from": "parent"}
        async with Client(base.replace("http", "ws") + "/voice/ws") as c:
            result = await c.ask("hi")
        async with httpx.AsyncClient(base_url=base) as http:
            health = (await http.get("/voice/healthz")).json()
    assert result.end is not None and result.end.status == "complete"
    assert result.text == REPLY
    assert result.segments and all(end is not None for _, end, _ in result.segments)
    assert health["llm"] == "scripted"


async def test_concurrent_first_requests_open_the_services_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Path] = []

    def load_secret(configured: str | None, data_dir: Path) -> bytes:
        opened.append(data_dir)  # called once each time the services are opened
        return b"s" * 32

    monkeypatch.setattr(services_module, "load_secret", load_secret)
    voice = voice_app(tmp_path)
    with serve(parent_app(voice, lifespan=False)) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            replies = await asyncio.gather(*(http.get("/voice/healthz") for _ in range(8)))
    assert [r.status_code for r in replies] == [200] * 8
    assert len(opened) == 1


async def test_the_parents_lifespan_can_open_voicewire_at_start_up(tmp_path: Path) -> None:
    voice = voice_app(tmp_path)
    with serve(parent_app(voice, lifespan=True)) as base:
        assert hasattr(voice.state, "services"), "services were not opened at start-up"
        async with Client(base.replace("http", "ws") + "/voice/ws") as c:
            result = await c.ask("hi")
    assert result.text == REPLY
