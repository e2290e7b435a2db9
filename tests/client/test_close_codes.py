"""Which closes a client resumes after (PROTOCOL.md §8): the protocol's table, its test vector,
and the Python client deciding by it. The browser client is tested against the same vector in
tests/web/test_close_codes_browser.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.conftest import bound_socket
from voicewire.client import Client, connection
from voicewire.protocol.errors import RESUMABLE_CLOSE_CODES, CloseCode
from voicewire.protocol.messages import (
    PROTOCOL_VERSION,
    AudioFormat,
    Pong,
    SessionReady,
    SessionResumed,
)

VECTOR: list[dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "close_codes.json").read_text()
)["close_codes"]


def test_the_table_of_resumable_close_codes_is_the_test_vector() -> None:
    codes = [entry["code"] for entry in VECTOR]
    assert len(codes) == len(set(codes)), "a code is listed twice"
    assert {entry["code"] for entry in VECTOR if entry["resumable"]} == RESUMABLE_CLOSE_CODES


def test_every_close_code_the_server_sends_has_a_resume_decision_in_the_vector() -> None:
    # A new close code must be decided on: add it to tests/vectors/close_codes.json.
    assert {int(code) for code in CloseCode} <= {entry["code"] for entry in VECTOR}


def test_the_idle_close_is_not_resumable_but_a_drop_is() -> None:
    assert CloseCode.IDLE_TIMEOUT not in RESUMABLE_CLOSE_CODES
    assert CloseCode.NORMAL not in RESUMABLE_CLOSE_CODES
    assert CloseCode.RESUMED_ELSEWHERE not in RESUMABLE_CLOSE_CODES
    assert {1006, CloseCode.SLOW_CONSUMER} <= RESUMABLE_CLOSE_CODES


@asynccontextmanager
async def closing_server(code: int) -> AsyncIterator[tuple[str, list[str]]]:
    """A stand-in server: a new session is closed with `code` (1005: a close frame without a
    code; 1006: no close frame at all) right after `session.ready`; a resume is answered with
    `session.resumed` and a pong. Yields the URL and the path of every connection."""
    paths: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        paths.append(ws.request.path if ws.request is not None else "")
        if "resume=" in paths[-1]:
            await ws.send(SessionResumed(session_id="s1", seq=1).model_dump_json())
            await ws.send(Pong(id="after", seq=2).model_dump_json())
            await ws.wait_closed()
            return
        ready = SessionReady(
            session_id="s1", seq=1, audio=AudioFormat(), guest_token="g", resume_token="r"
        )
        await ws.send(ready.model_dump_json())
        if code == 1006:
            ws.transport.abort()
        elif code == 1005:
            await ws.close(None)  # type: ignore[arg-type]
        else:
            await ws.close(code)

    with bound_socket() as sock:
        async with serve(handler, sock=sock, subprotocols=[PROTOCOL_VERSION]):  # type: ignore[list-item]
            yield f"ws://127.0.0.1:{sock.getsockname()[1]}/ws", paths


@pytest.mark.parametrize("entry", VECTOR, ids=lambda entry: str(entry["code"]))
async def test_the_python_client_resumes_after_exactly_the_closes_the_vector_says(
    entry: dict[str, Any],
) -> None:
    async with closing_server(entry["code"]) as (url, paths), Client(url) as c:
        if entry["resumable"]:
            event = await c.receive()
            while not isinstance(event, Pong):
                event = await c.receive()
            assert c.resumes == 1
            assert "resume=r" in paths[1]
        else:
            with pytest.raises(ConnectionClosed) as closed:
                await c.receive()
            received = closed.value.rcvd.code if closed.value.rcvd is not None else None
            assert received == entry["code"]
            assert c.resumes == 0 and len(paths) == 1


async def test_the_python_client_takes_its_decision_from_the_protocol_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Not a copy of it: with an empty table, even a dropped connection is not resumed.
    monkeypatch.setattr(connection, "RESUMABLE_CLOSE_CODES", frozenset())
    async with closing_server(1006) as (url, paths), Client(url) as c:
        with pytest.raises(ConnectionClosed):
            await c.receive()
    assert c.resumes == 0 and len(paths) == 1
