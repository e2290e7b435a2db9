"""The protocol core does no I/O: nothing in it imports asyncio, sockets or web frameworks."""

from __future__ import annotations

import ast
from pathlib import Path

import voicewire.protocol

FORBIDDEN = {"asyncio", "socket", "starlette", "fastapi", "uvicorn", "websockets", "anyio"}
PROTOCOL_DIR = Path(voicewire.protocol.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_protocol_module_imports_io_libraries() -> None:
    files = sorted(PROTOCOL_DIR.glob("*.py"))
    assert len(files) >= 4
    for path in files:
        assert not imported_modules(path) & FORBIDDEN, path.name


def test_public_api_is_pinned() -> None:
    assert sorted(voicewire.protocol.__all__) == sorted(
        [
            "HEADER_SIZE",
            "PROTOCOL_VERSION",
            "AudioFrame",
            "CloseCode",
            "CodecId",
            "ErrorCode",
            "FrameError",
            "FrameFlags",
            "FrameKind",
            "Inbound",
            "Session",
            "SpeechSettings",
            "Violation",
            "decode_frame",
        ]
    )
    for name in voicewire.protocol.__all__:
        assert hasattr(voicewire.protocol, name)
