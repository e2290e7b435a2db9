"""Faults: engines that fail or hang, and a database that is briefly away."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tests.conftest import serve
from tests.server.test_persistence import wait_for_messages
from tests.waiting import until
from voicewire.client import Client
from voicewire.config import Settings
from voicewire.llm.base import ChatMessage, LLMError
from voicewire.llm.scripted import ScriptedLLM
from voicewire.protocol.frames import AudioFrame
from voicewire.server import persist
from voicewire.server.app import create_app
from voicewire.tts.base import SpeechChunk, TTSError
from voicewire.tts.fake import FakeToneTTS

REPLY = "First sentence is here. Second sentence follows now. Third one ends it."


class FailingAfterTTS(FakeToneTTS):
    """Speaks the first `good` segments, then raises (a fake, for this test only)."""

    def __init__(self, good: int) -> None:
        super().__init__()
        self.good = good

    async def synthesize(
        self, text: str, *, voice: str | None = None, rate: float = 1.0
    ) -> AsyncGenerator[SpeechChunk, None]:
        if self.good <= 0:
            raise TTSError("voice model crashed")
        self.good -= 1
        async for chunk in super().synthesize(text, voice=voice, rate=rate):
            yield chunk


class BrokenLLM:
    """Writes a few tokens, then fails or hangs (a fake, for this test only)."""

    name = "broken"

    def __init__(self, tokens: list[str], *, hang: bool = False) -> None:
        self.tokens, self.hang = tokens, hang

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        for token in self.tokens:
            yield token
        if self.hang:
            await asyncio.sleep(3600)
        raise LLMError("backend returned HTTP 500")


def ws(base: str) -> str:
    return base.replace("http", "ws", 1) + "/ws"


async def test_tts_failing_mid_turn_keeps_the_text_going_and_says_audio_failed(
    tmp_path: Path,
) -> None:
    llm = ScriptedLLM(REPLY, tokens_per_second=100, first_token_ms=5)
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path)
    with serve(create_app(settings, llm=llm, tts=FailingAfterTTS(good=1))) as base:
        async with Client(ws(base)) as c:
            result = await c.ask("talk")
            again = await c.ask("again", voice=False)
    assert result.end is not None
    assert result.end.status == "complete" and result.end.text == REPLY
    assert [e.code for e in result.errors] == ["tts_failed"]
    assert {e.segment_id for _, e in result.events if isinstance(e, AudioFrame)} == {0}
    assert again.end is not None and again.end.status == "complete"


@pytest.mark.parametrize("hang", [False, True], ids=["fails", "hangs"])
async def test_a_failing_or_hanging_llm_ends_the_turn_failed_with_an_error(
    tmp_path: Path, hang: bool
) -> None:
    llm = BrokenLLM(["Partial ", "answer, ", "then "], hang=hang)
    # Long enough that a busy machine never times out the tokens that do come; the hanging
    # LLM is cut off by it.
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path, llm_timeout_s=2.0)
    with serve(create_app(settings, llm=llm, tts=FakeToneTTS())) as base:
        async with Client(ws(base)) as c:
            result = await c.ask("hello")
            assert c.ready is not None
            pong_ok = await c.ask("still alive?", voice=False)
    assert result.end is not None
    assert result.end.status == "failed" and result.end.text == "Partial answer, then "
    assert [e.code for e in result.errors] == ["llm_failed"]
    assert "500" not in result.errors[0].message  # no internals to the client
    assert pong_ok.end is not None


def flaky(method: Callable[..., Awaitable[Any]], failures: int) -> Callable[..., Awaitable[Any]]:
    state = {"left": failures}

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if state["left"] > 0:
            state["left"] -= 1
            raise OperationalError("INSERT", {}, ConnectionRefusedError("database is down"))
        return await method(*args, **kwargs)

    return wrapper


async def test_a_briefly_unavailable_database_delays_nothing_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(persist, "RETRY_DELAYS_S", (0.05, 0.1, 0.2, 0.4))
    llm = ScriptedLLM(REPLY, tokens_per_second=200, first_token_ms=5)
    app = create_app(Settings(llm="scripted", tts="fake", data_dir=tmp_path), llm=llm)
    with serve(app) as base:
        store = app.state.services.store
        for name in ("add_user_message", "begin_reply", "finish_reply"):
            monkeypatch.setattr(store, name, flaky(getattr(store, name), failures=2))
        async with Client(ws(base)) as c:
            result = await c.ask("hello", voice=False)
            assert c.ready is not None and c.ready.conversation_id and c.ready.guest_token
            conversation, token = c.ready.conversation_id, c.ready.guest_token
        assert result.end is not None and result.end.status == "complete"
        assert result.text == REPLY
        messages = await wait_for_messages(
            base, conversation, token, lambda m: len(m) == 2 and m[1]["status"] != "streaming"
        )
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert messages[1]["text"] == REPLY


async def test_a_write_that_keeps_failing_is_logged_not_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(persist, "RETRY_DELAYS_S", (0.01, 0.01))
    llm = ScriptedLLM(REPLY, tokens_per_second=200, first_token_ms=5)
    app = create_app(Settings(llm="scripted", tts="fake", data_dir=tmp_path), llm=llm)
    with caplog.at_level(logging.WARNING), serve(app) as base:
        store = app.state.services.store
        monkeypatch.setattr(store, "finish_reply", flaky(store.finish_reply, failures=100))
        async with Client(ws(base)) as c:
            result = await c.ask("hello", voice=False)
        assert result.end is not None and result.end.status == "complete"
        # The write is retried in the background after the turn ended; wait for its last try.
        await until(
            lambda: any("database write failed" in r.message for r in caplog.records),
            "the failed write to be logged",
        )
