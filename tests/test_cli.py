"""The `voicewire` command, run as users run it: a subprocess."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from tests.conftest import free_port, inherited_socket, serve_process
from tests.waiting import HANG_S
from voicewire.cli_chat import Chat
from voicewire.client import Client, TurnResult
from voicewire.llm.scripted import DEFAULT_REPLY
from voicewire.protocol.messages import PROTOCOL_VERSION, Error, ToolCall, TurnEnd

ROOT = Path(__file__).resolve().parent.parent
_SCRIPT = Path(sys.executable).parent / "voicewire"
VOICEWIRE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "voicewire"]


def run(
    *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    command = [*VOICEWIRE, *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=env, input=input
    )


@contextmanager
def server(
    data_dir: Path, *args: str, cwd: Path | None = None, log: Path | None = None
) -> Iterator[str]:
    """`voicewire serve --llm scripted --tts fake` in a subprocess; yields its ws:// URL.

    With `log`, the server's stdout and stderr go to that file (complete once this exits).
    """
    sock = inherited_socket()
    port = sock.getsockname()[1]
    # The scripted reply streams fast, so each chat test takes a fraction of a second.
    env = {**os.environ, "VOICEWIRE_DATA_DIR": str(data_dir), "VOICEWIRE_SCRIPTED_TPS": "400"}
    # Only the working directory may make apps importable (as `serve --app` promises).
    paths = env.get("PYTHONPATH", "").split(os.pathsep)
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p and Path(p).resolve() != ROOT)
    out = log.open("wb") if log else None
    try:
        proc = serve_process(
            sock,
            env,
            *args,
            command=VOICEWIRE,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
        )
    except BaseException:
        if out:
            out.close()
        raise
    finally:
        sock.close()  # the server has it
    try:
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        proc.terminate()
        proc.wait(timeout=HANG_S)
        if out:
            out.close()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def url(data_dir: Path) -> Iterator[str]:
    with server(data_dir) as ws_url:
        yield ws_url


def test_serve_starts_the_server_and_answers_healthz(url: str) -> None:
    r = httpx.get(url.replace("ws://", "http://").replace("/ws", "/healthz"), timeout=5)
    assert r.json()["llm"] == "scripted"


def test_an_unknown_engine_fails_at_startup_with_a_clear_message() -> None:
    proc = run("serve", "--port", str(free_port()), "--llm", "nope")
    assert proc.returncode != 0
    assert "unknown LLM engine 'nope'" in proc.stderr
    assert "Traceback" not in proc.stderr


async def test_chat_once_prints_the_reply_and_saves_its_speech_as_a_wav(
    url: str, tmp_path: Path
) -> None:
    proc = run("chat", url, "--once", "hello", "--save-audio", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert DEFAULT_REPLY in proc.stdout
    # The same question over the Python client gives the same segments (scripted + fake TTS).
    async with Client(url) as c:
        reference = await c.ask("hello")
    ends = [end for _, end, _ in reference.segments if end is not None]
    with wave.open(str(tmp_path / "turn-1.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        wav_ms = w.getnframes() * 1000 / w.getframerate()
        assert w.getnframes() == sum(end.samples for end in ends)
    # Each segment's duration_ms is rounded, so it may be up to 1 ms off per segment.
    assert abs(wav_ms - sum(end.duration_ms for end in ends)) <= len(ends)


async def test_chat_speaks_in_the_chosen_voice_at_the_chosen_rate(url: str, tmp_path: Path) -> None:
    args = ("--voice-name", "fake-tone", "--rate", "2", "--save-audio", str(tmp_path))
    proc = run("chat", url, "--once", "hello", *args)
    assert proc.returncode == 0, proc.stderr
    async with Client(url) as c:  # the fake voice's tones are 1/rate as long
        fast = await c.ask("hello", voice_name="fake-tone", rate=2.0)
        normal = await c.ask("hello")
    with wave.open(str(tmp_path / "turn-1.wav")) as w:
        frames = w.getnframes()
    assert frames == sum(end.samples for _, end, _ in fast.segments if end is not None)
    assert frames < sum(end.samples for _, end, _ in normal.segments if end is not None)


@pytest.mark.parametrize("once", [True, False], ids=["once", "interactive"])
def test_chat_with_a_voice_the_server_does_not_have_fails_with_a_clear_message(
    url: str, once: bool
) -> None:
    mode = ("--once", "hello") if once else ()
    proc = run("chat", url, "--voice-name", "nope", *mode, input="hello\n")
    assert proc.returncode == 2
    assert "unknown voice 'nope'; the server's voices: fake-tone" in proc.stderr
    assert "Traceback" not in proc.stderr and DEFAULT_REPLY not in proc.stdout


def test_chat_refuses_a_rate_outside_half_to_twice_normal_speed() -> None:
    for rate in ("0.4", "2.5"):
        proc = run("chat", "ws://127.0.0.1:9/ws", "--rate", rate)  # refused before connecting
        assert proc.returncode == 2
        assert "Invalid value for '--rate'" in proc.stderr and "Traceback" not in proc.stderr


def test_chat_against_a_closed_port_fails_with_a_clear_message() -> None:
    with socket.socket() as held:  # bound, never listening: the port refuses, and stays ours
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        proc = run("chat", f"ws://127.0.0.1:{port}/ws", "--once", "hello")
    assert proc.returncode != 0
    assert "cannot connect" in proc.stderr and "connection refused" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_chat_without_an_audio_player_saves_the_speech_and_says_where(url: str) -> None:
    # An empty PATH: no aplay, paplay or ffplay can be found.
    env = {**os.environ, "PATH": ""}
    proc = run("chat", url, input="hello\n", env=env)
    assert proc.returncode == 0, proc.stderr
    assert DEFAULT_REPLY in proc.stdout
    found = re.search(r"saved in (\S+)", proc.stderr)
    assert found, proc.stderr
    saved = Path(found.group(1))
    try:
        assert (saved / "turn-1.wav").stat().st_size > 44
    finally:
        shutil.rmtree(saved)


def test_say_writes_a_22050_hz_mono_16_bit_wav_of_speech(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    proc = run("say", "Hello world", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    with wave.open(str(out)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (22050, 1, 2)
        pcm = w.readframes(w.getnframes())
        seconds = w.getnframes() / w.getframerate()
    assert 0.5 <= seconds <= 3.0
    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    assert np.sqrt(np.mean(audio**2)) > 300, "the WAV is silent"


async def test_token_prints_a_token_the_server_accepts(url: str, data_dir: Path) -> None:
    proc = run("token", "alice", env={**os.environ, "VOICEWIRE_DATA_DIR": str(data_dir)})
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    async with Client(url, token=token) as c:
        assert c.ready is not None
        assert c.ready.guest_token is None, "the server treated the user as a new guest"
        conversation = c.conversation_id
    http = url.replace("ws://", "http://").replace("/ws", "/api/conversations")
    async with httpx.AsyncClient() as client:
        r = await client.get(http, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert conversation in [c["id"] for c in r.json()]


async def test_the_server_log_shows_no_token_or_resume_token(tmp_path: Path) -> None:
    """Defect 10: uvicorn logged each request line with its query string, secrets included."""
    log = tmp_path / "server.log"
    with server(tmp_path / "data", "--log-level", "info", log=log) as ws_url:
        base = ws_url.removesuffix("/ws").replace("ws://", "http://")
        async with httpx.AsyncClient() as http:
            (await http.get(f"{base}/healthz?token=SECRET-HTTP", timeout=5)).raise_for_status()
        forged = f"{ws_url}?token=SECRET-WS&resume=SECRET-RESUME&last_seq=0"
        with pytest.raises(InvalidStatus):  # refused: logged as a 403 line
            async with connect(forged, subprotocols=[Subprotocol(PROTOCOL_VERSION)]):
                pass
        async with Client(ws_url) as guest:  # issued a guest token and a resume token
            await guest.ask("hello")
        token, resume = guest.token, guest.resume_token
        assert token and resume
        async with Client(ws_url, token=token) as again:  # accepted: logged as [accepted]
            await again.ask("hello again")
        real = f"{ws_url}?token={token}&resume={resume}&last_seq={guest.last_seq}"
        async with connect(real, subprotocols=[Subprotocol(PROTOCOL_VERSION)]) as ws:
            await ws.recv()
    text = log.read_text()
    for secret in ("SECRET-HTTP", "SECRET-WS", "SECRET-RESUME", token, resume):
        assert secret not in text
    assert "GET /healthz?token=*** HTTP/1.1" in text  # the lines are there, redacted
    assert '"WebSocket /ws?token=***&resume=***&last_seq=0" 403' in text
    assert '"WebSocket /ws?token=***" [accepted]' in text


def test_db_upgrade_creates_the_database(tmp_path: Path) -> None:
    proc = run("db", "upgrade", env={**os.environ, "VOICEWIRE_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "voicewire.db").stat().st_size > 0


async def test_serve_app_loads_a_responder_from_the_working_directory(tmp_path: Path) -> None:
    with server(tmp_path, "--app", "examples.real_estate:respond", cwd=ROOT) as ws_url:
        async with Client(ws_url) as c:
            result = await c.ask("find a flat with two bedrooms", voice=False)
    # The scripted LLM cannot call tools: the app answers as a plain chatbot.
    assert result.end is not None and result.end.status == "complete" and result.text


def test_serve_with_an_app_that_does_not_exist_fails_with_a_clear_message() -> None:
    proc = run("serve", "--port", str(free_port()), "--app", "no_such_module:respond")
    assert proc.returncode != 0
    assert "cannot load app 'no_such_module:respond'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_turn_that_failed_with_an_error_event_exits_non_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    end = TurnEnd(turn_id=1, status="failed", text="")
    error = Error(code="llm_failed", message="the language model failed to answer", turn_id=1)
    result = TurnResult(1, [(0.0, error), (0.0, end)], end=end)
    code = Chat("ws://x/ws", token=None, voice=False, save_dir=None)._report(result)
    assert code != 0
    stderr = capsys.readouterr().err
    assert "server error llm_failed" in stderr and "the turn ended failed" in stderr


def test_chat_shows_the_tools_the_model_calls(capsys: pytest.CaptureFixture[str]) -> None:
    chat = Chat("ws://x/ws", token=None, voice=False, save_dir=None)
    chat._print(ToolCall(turn_id=1, call_id="c", name="search", arguments={"city": "Bern"}))
    assert "[search({'city': 'Bern'})]" in capsys.readouterr().out
