"""Architectural rules of `server/`, pinned: nothing imports the app, no import cycles, and no
module of the package grows past the hard limit."""

from __future__ import annotations

import ast
from pathlib import Path

import voicewire
import voicewire.server

SERVER_DIR = Path(voicewire.server.__file__).parent
SRC_DIR = Path(voicewire.__file__).parent
MAX_LINES = 400


def server_imports(path: Path) -> set[str]:
    """The `server/` modules `path` imports, type-only imports included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            inside = parts[:2] == ["voicewire", "server"] and len(parts) >= 3
            if inside and (SERVER_DIR / f"{parts[2]}.py").exists():
                found.add(parts[2])
    return found


def graph() -> dict[str, set[str]]:
    modules = {p.stem: p for p in SERVER_DIR.glob("*.py") if p.stem != "__init__"}
    return {name: server_imports(path) - {name} for name, path in modules.items()}


def test_no_module_of_the_server_imports_the_app() -> None:
    importers = sorted(name for name, deps in graph().items() if "app" in deps)
    assert importers == []


def test_the_server_modules_import_each_other_without_cycles() -> None:
    deps = graph()
    assert len(deps) >= 10
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for dep in sorted(deps[name]):
            if state.get(dep) == "open":
                cycles.append([*path[path.index(dep) :], dep] if dep in path else [name, dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[name] = "done"

    for name in sorted(deps):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_services_module_imports_no_endpoint() -> None:
    assert not graph()["services"] & {"ws", "compat", "http", "handshake", "turns", "app"}


def test_no_module_of_the_package_is_over_the_line_limit() -> None:
    sizes = {
        str(p.relative_to(SRC_DIR)): len(p.read_text().splitlines()) for p in SRC_DIR.rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
    assert sizes["server/ws.py"] <= 250
    assert sizes["protocol/session.py"] <= 300
    # The turn was split by responsibility (text, speech, heard) when it reached 384 lines.
    assert {name: n for name, n in sizes.items() if name.startswith("turn/") and n > 300} == {}
    # Split by responsibility when they passed 330 lines: the client's connection (the turn
    # result it collects), `/v1/realtime`'s connection (its responses) and wire shapes (the
    # client events), the plots (the timeline they draw is measured apart), and the Piper voice
    # (one text's synthesis, and its word timings).
    split = (
        "client/connection.py",
        "client/turn_result.py",
        "server/realtime.py",
        "server/realtime_responses.py",
        "server/realtime_events.py",
        "server/realtime_client_events.py",
        "bench/plots.py",
        "bench/timeline.py",
        "tts/piper.py",
        "tts/piper_synthesis.py",
        "tts/piper_words.py",
        # Split at 321 and 344 lines: a connection's turns (what a turn records in its
        # conversation), and its store writes (the app's background writes and their retries).
        "server/turns.py",
        "server/conversation.py",
        "server/persist.py",
        "server/writes.py",
    )
    assert {name: sizes[name] for name in split if sizes[name] > 300} == {}
