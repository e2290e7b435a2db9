"""The public API: what `voicewire` exports, pinned; cheap to import; no import cycles."""

from __future__ import annotations

import subprocess
import sys

import pytest

import voicewire

PUBLIC = [
    "ChatMessage",
    "Client",
    "DataItem",
    "Responder",
    "Settings",
    "TurnContext",
    "TurnResult",
    "VoicewireError",
    "__version__",
    "create_app",
    "voicewire_lifespan",
]


def python(code: str) -> str:
    """Run `code` in a fresh interpreter: import order and cost depend on what ran before."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_public_api_is_pinned() -> None:
    assert sorted(voicewire.__all__) == sorted(PUBLIC)


def test_every_public_name_is_the_object_its_module_defines() -> None:
    from voicewire.client import Client, TurnResult
    from voicewire.config import Settings
    from voicewire.errors import VoicewireError
    from voicewire.llm.base import ChatMessage
    from voicewire.responder import DataItem, Responder, TurnContext
    from voicewire.server.app import create_app, voicewire_lifespan

    expected = {
        "ChatMessage": ChatMessage,
        "Client": Client,
        "DataItem": DataItem,
        "Responder": Responder,
        "Settings": Settings,
        "TurnContext": TurnContext,
        "TurnResult": TurnResult,
        "VoicewireError": VoicewireError,
        "create_app": create_app,
        "voicewire_lifespan": voicewire_lifespan,
    }
    for name, obj in expected.items():
        assert getattr(voicewire, name) is obj, name
    assert isinstance(voicewire.__version__, str)
    assert set(PUBLIC) <= set(dir(voicewire))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = voicewire.nope


def test_importing_voicewire_loads_neither_the_server_nor_the_engines() -> None:
    """A responder module imports voicewire for its types; that must not start a web stack."""
    heavy = ["fastapi", "starlette", "sqlalchemy", "uvicorn", "pydantic", "numpy", "websockets"]
    loaded = python(
        "import sys, voicewire\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
        "print(sorted(m for m in sys.modules if m.startswith('voicewire')))"
    ).splitlines()
    assert loaded == ["[]", "['voicewire', 'voicewire.errors']"]


@pytest.mark.parametrize(
    "statement",
    [
        "from voicewire import create_app, voicewire_lifespan",
        "from voicewire import TurnContext, DataItem, Responder, ChatMessage",
        "from voicewire import Client, TurnResult",
        "from voicewire import Settings",
        "import voicewire.errors",
        "import voicewire.protocol.frames",
        "from voicewire.turn import Turn, TurnOptions, Outgoing, AudioOut, heard_text",
        "import voicewire.turn.speaker",
        "import voicewire.turn.heard",
    ],
)
def test_each_entry_point_imports_first_without_an_import_cycle(statement: str) -> None:
    python(statement)


def test_the_turn_package_exports_its_parts_from_one_place() -> None:
    import voicewire.turn

    assert sorted(voicewire.turn.__all__) == [
        "AudioOut",
        "Emit",
        "Outgoing",
        "Speaker",
        "SpokenSegment",
        "Turn",
        "TurnOptions",
        "Writer",
        "aiter_of",
        "heard_text",
        "word_timings",
    ]
    assert all(hasattr(voicewire.turn, name) for name in voicewire.turn.__all__)
