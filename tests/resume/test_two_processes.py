"""Two server processes sharing the real Redis and PostgreSQL: a reply started on A is resumed
on B, whole, and the stored conversation is complete.

The client talks to a proxy (the load balancer); the proxy is switched to B, then cut.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url

from tests.conftest import inherited_socket, serve_process
from tests.cutproxy import cut_proxy
from tests.resume.conftest import require_redis
from tests.resume.turns import REPLY, assert_consecutive, audio_of, one_turn, streams, text_of
from tests.server.test_persistence import wait_for_messages
from tests.storage.conftest import _postgres_connection, postgres_url
from tests.waiting import HANG_S
from voicewire.client import Client
from voicewire.protocol.messages import Error, TurnEnd


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """A throwaway PostgreSQL database both processes share."""
    admin = await _postgres_connection()
    name = f"vwtest_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(postgres_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def start(
    sock: socket.socket, data: Path, env: dict[str, str], *args: str
) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "VOICEWIRE_DATA_DIR": str(data), **env}
    return serve_process(sock, environment, *args)


@pytest.fixture
def two_servers(
    database: str, redis_prefix: str, tmp_path: Path
) -> Iterator[tuple[int, int, list[subprocess.Popen[bytes]]]]:
    env = {
        "VOICEWIRE_DATABASE_URL": database,
        "VOICEWIRE_REDIS_URL": require_redis(),
        "VOICEWIRE_SECRET": "a secret the two processes share",
        "VOICEWIRE_SCRIPTED_REPLY": REPLY,
        "VOICEWIRE_SCRIPTED_TPS": "40",
    }
    socks = inherited_socket(), inherited_socket()
    ports = socks[0].getsockname()[1], socks[1].getsockname()[1]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, sock in enumerate(socks):
            procs.append(start(sock, tmp_path / f"node{i}", env))
            sock.close()  # the server has it: a killed server's port refuses connections
        yield (*ports, procs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=HANG_S)


Servers = tuple[int, int, list[subprocess.Popen[bytes]]]


async def test_a_reply_started_on_one_process_is_resumed_whole_on_another(
    two_servers: Servers,
) -> None:
    port_a, port_b, _ = two_servers
    async with Client(f"ws://127.0.0.1:{port_a}/ws") as c:
        reference = await one_turn(c)

    async with cut_proxy(port_a) as proxy, Client(proxy.url) as c:

        def cut_to_b(frames: int) -> bool:
            if frames == 3:
                proxy.upstream_port = port_b  # the reconnect lands on B
                return True
            return False

        events = await one_turn(c, cut=cut_to_b, proxy=proxy)
        # The session now lives on B: it goes on there.
        after = await one_turn(c, "And then?")
    assert c.resumes == 1
    assert text_of(events) == text_of(reference) == REPLY
    assert audio_of(events) == audio_of(reference)
    assert streams(events) == streams(reference)
    assert_consecutive(events, after)
    assert isinstance(after[-1], TurnEnd) and after[-1].status == "complete"
    assert after[-1].turn_id == 2

    assert c.token and c.conversation_id
    base_b = f"http://127.0.0.1:{port_b}"
    messages: list[dict[str, Any]] = await wait_for_messages(
        base_b,
        c.conversation_id,
        c.token,
        lambda m: len(m) == 4 and all(x["status"] == "complete" for x in m),
    )
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert [m["text"] for m in messages] == ["What is the plan?", REPLY, "And then?", REPLY]


async def test_a_reply_in_flight_during_a_restart_finishes_and_is_resumed_elsewhere(
    two_servers: Servers,
) -> None:
    port_a, port_b, procs = two_servers
    async with cut_proxy(port_a) as proxy, Client(proxy.url) as c:

        def restart_a(frames: int) -> bool:
            if frames == 3:
                proxy.upstream_port = port_b
                procs[0].terminate()  # SIGTERM: A closes its sockets with 1012 and drains
            return False

        events = await one_turn(c, cut=restart_a, proxy=proxy)
    assert c.resumes == 1
    assert text_of(events) == REPLY
    end = events[-1]
    assert isinstance(end, TurnEnd) and end.status == "complete" and end.text == REPLY
    # uvicorn re-raises the SIGTERM once it has shut down gracefully.
    assert procs[0].wait(timeout=HANG_S) in (0, -signal.SIGTERM)
    assert_consecutive(events)


async def test_a_reply_whose_process_was_killed_ends_failed_and_the_session_goes_on_elsewhere(
    two_servers: Servers,
) -> None:
    port_a, port_b, procs = two_servers
    async with cut_proxy(port_a) as proxy, Client(proxy.url) as c:

        def kill_a(frames: int) -> bool:
            if frames == 3:
                proxy.upstream_port = port_b
                procs[0].kill()  # no drain, no handoff
            return False

        events = await one_turn(c, cut=kill_a, proxy=proxy)
        after = await one_turn(c, "Are you still there?")
    assert c.resumes == 1
    end = events[-1]
    assert isinstance(end, TurnEnd) and end.status == "failed" and end.turn_id == 1
    assert REPLY.startswith(end.text)  # what had been sent (and saved) is kept
    assert any(isinstance(e, Error) and e.code == "internal_error" for e in events)
    assert REPLY.startswith(text_of(events))
    assert isinstance(after[-1], TurnEnd) and after[-1].status == "complete"
    assert_consecutive(events, after)
    # The dead process's reply is stored failed, with the text it had written so far.
    assert c.token and c.conversation_id
    messages: list[dict[str, Any]] = await wait_for_messages(
        f"http://127.0.0.1:{port_b}",
        c.conversation_id,
        c.token,
        lambda m: len(m) == 4 and m[1]["status"] == "failed" and m[3]["status"] == "complete",
    )
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"),
        ("assistant", "failed"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert messages[1]["text"] == end.text


async def test_workers_refuse_to_start_without_redis(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "voicewire", "serve", "--workers", "2", "--llm", "scripted"]
    env = {k: v for k, v in os.environ.items() if k != "VOICEWIRE_REDIS_URL"}
    proc = await asyncio.create_subprocess_exec(
        *command,
        "--tts",
        "fake",
        env={**env, "VOICEWIRE_DATA_DIR": str(tmp_path)},
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await proc.communicate()
    assert proc.returncode == 2
    assert b"VOICEWIRE_REDIS_URL" in stderr


async def test_serve_with_two_workers_resumes_a_cut_reply_on_whichever_worker_answers(
    redis_prefix: str, tmp_path: Path
) -> None:
    sock = inherited_socket()
    port = sock.getsockname()[1]
    env = {
        "VOICEWIRE_REDIS_URL": require_redis(),
        "VOICEWIRE_SCRIPTED_REPLY": REPLY,
        "VOICEWIRE_SCRIPTED_TPS": "40",
    }
    proc = start(sock, tmp_path, env, "--workers", "2")
    sock.close()  # the workers have it
    try:
        async with cut_proxy(port) as proxy, Client(proxy.url) as c:
            events = await one_turn(c, cut=lambda n: n in (2, 6), proxy=proxy)
    finally:
        proc.terminate()
        proc.wait(timeout=HANG_S)
    assert c.resumes == 2
    end = events[-1]
    assert isinstance(end, TurnEnd) and end.status == "complete" and end.text == REPLY
    assert_consecutive(events)
