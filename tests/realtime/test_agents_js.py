"""`/v1/realtime` with openai-agents-js (`@openai/agents-realtime` from npm) in node: a
RealtimeSession on the WebSocket transport completes a spoken text turn, and its interrupt path
(`response.cancel` + `conversation.item.truncate`) cuts the reply to what was heard; an agent's
function tool is called, run by the session, and its result spoken.

The package is installed from the lockfile into tests/realtime/node (no global install) the
first time; the test is skipped where node or npm is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import serve
from tests.realtime.test_function_tools import say_the_output
from tests.realtime.test_sdk import REPLY
from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM, ScriptedToolLLM, call_pieces
from voicewire.server.app import create_app
from voicewire.tts.fake import FakeToneTTS

NODE_DIR = Path(__file__).resolve().parent / "node"


@pytest.fixture(scope="module")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the openai-agents-js test")
    if not (NODE_DIR / "node_modules" / "@openai" / "agents-realtime").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            check=True,
            timeout=300,
        )
    return node


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path_factory.mktemp("data"))
    llm = ScriptedLLM(REPLY, tokens_per_second=40, first_token_ms=5)
    with serve(create_app(settings, llm=llm, tts=FakeToneTTS())) as base:
        yield base.replace("http", "ws", 1) + "/v1/realtime"


def test_an_agents_js_session_speaks_a_turn_and_interrupts_the_next(node: str, url: str) -> None:
    script = NODE_DIR / "agent_turns.mjs"
    run = subprocess.run(
        [node, str(script), url, "guest"], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    first, second = result["first"], result["second"]
    assert first["status"] == "completed" and first["errors"] == []
    assert first["transcript"] == REPLY
    assert first["audioBytes"] > 24000 * 2  # over a second of 24 kHz pcm16
    assert second["status"] == "cancelled" and second["errors"] == []
    # Cut to the words begun by audio_end_ms (the transport's playback estimate).
    heard = second["heard"]
    assert REPLY.startswith(heard) and len(heard) < len(REPLY)
    if second["audioEndMs"] > 0:
        assert heard.startswith("Sure,")  # "Sure," starts at 0 ms with the fake voice


@pytest.fixture(scope="module")
def tool_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    llm = ScriptedToolLLM(
        [call_pieces(0, "call_w1", "get_weather", '{"city": "Paris"}', size=3), say_the_output]
    )
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path_factory.mktemp("data"))
    with serve(create_app(settings, llm=llm, tts=FakeToneTTS())) as base:
        yield base.replace("http", "ws", 1) + "/v1/realtime"


def test_an_agents_js_function_tool_is_called_and_its_result_is_spoken(
    node: str, tool_url: str
) -> None:
    script = NODE_DIR / "agent_tools.mjs"
    run = subprocess.run(
        [node, str(script), tool_url, "guest"], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["declared"] == ["get_weather"] and result["errors"] == []
    assert result["calls"] == [{"city": "Paris"}]  # the session ran the agent's tool
    assert result["responses"] == [
        ["completed", ["function_call"]],
        ["completed", ["message"]],
    ]
    assert result["transcript"] == "It is 21 degrees and sunny in Paris."
