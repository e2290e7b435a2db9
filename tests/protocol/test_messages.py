"""Every message of the spec round-trips model → JSON → model, from the shared vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from voicewire.protocol.messages import client_message_adapter, server_message_adapter

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "messages.json").read_text())


@pytest.mark.parametrize("example", VECTORS["client"], ids=lambda e: e["type"])
def test_client_message_round_trips_through_json(example: dict[str, Any]) -> None:
    model = client_message_adapter.validate_python(example)
    again = client_message_adapter.validate_json(model.model_dump_json())
    assert again == model
    assert model.model_dump(exclude_unset=True) == example


@pytest.mark.parametrize("example", VECTORS["server"], ids=lambda e: e["type"])
def test_server_message_round_trips_through_json(example: dict[str, Any]) -> None:
    model = server_message_adapter.validate_python(example)
    again = server_message_adapter.validate_json(model.model_dump_json())
    assert again == model
    assert json.loads(model.model_dump_json(exclude_none=True)) == example


def test_every_message_type_has_an_example() -> None:
    from voicewire.protocol.messages import CLIENT_TYPES, ServerMessage

    server_types = {
        a.model_fields["type"].default
        for a in ServerMessage.__origin__.__args__  # type: ignore[attr-defined]
    }
    assert {e["type"] for e in VECTORS["client"]} == CLIENT_TYPES
    assert {e["type"] for e in VECTORS["server"]} == server_types


def test_unknown_fields_are_ignored() -> None:
    model = client_message_adapter.validate_python(
        {"type": "ping", "id": "x", "from_the_future": [1, 2]}
    )
    assert model.model_dump() == {"type": "ping", "id": "x"}


def test_messages_are_frozen() -> None:
    model = client_message_adapter.validate_python({"type": "ping"})
    with pytest.raises(ValueError):
        model.id = "changed"  # type: ignore[misc]
