"""What the store hands out: JSON-ready snapshots of rows, and its errors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from voicewire.errors import VoicewireError
from voicewire.storage.schema import FINAL_STATUSES, Conversation, Message, Role, Status


class StoreError(VoicewireError):
    """A storage operation was refused."""


class NotFound(StoreError):
    """No such row — or it belongs to another identity, which callers must not be able to tell."""


class IdentityConflict(StoreError):
    """The subject is already taken by an identity of the other kind."""


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class ConversationInfo(_Record):
    id: str
    title: str | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, row: Conversation) -> ConversationInfo:
        return cls(
            id=row.id,
            title=row.title,
            created_at=row.created_at.isoformat(),
            updated_at=row.updated_at.isoformat(),
        )


class MessageInfo(_Record):
    id: str
    role: Role
    text: str
    status: Status
    spoken: bool
    played_ms: int | None
    data: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    turn_id: int | None
    client_id: str | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, row: Message) -> MessageInfo:
        return cls(
            id=row.id,
            role=row.role,
            text=row.text,
            status=row.status,
            spoken=row.spoken,
            played_ms=row.played_ms,
            data=row.data,
            tools=row.tools or [],
            turn_id=row.turn_id,
            client_id=row.client_id,
            created_at=row.created_at.isoformat(),
            updated_at=row.updated_at.isoformat(),
        )


# `messages.played_ms` is a 32-bit INTEGER on PostgreSQL; the protocol bounds
# `turn.cancel.played_ms` to the same (about 24.8 days of audio).
MAX_PLAYED_MS = 2**31 - 1


def reply_values(
    *,
    text: str,
    status: str,
    played_ms: int | None,
    data: list[dict[str, Any]] | None,
    tools: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The columns a finished reply sets, checked; `data` and `tools` are left out when None."""
    if status not in FINAL_STATUSES:
        raise ValueError(f"status must be one of {sorted(FINAL_STATUSES)}, got {status!r}")
    if played_ms is not None and not 0 <= played_ms <= MAX_PLAYED_MS:
        raise ValueError(f"played_ms must be within 0..{MAX_PLAYED_MS}, got {played_ms}")
    values: dict[str, Any] = {"text": text, "status": status, "played_ms": played_ms}
    if data is not None:
        for item in data:
            # Stored as the protocol's `data` events carry them, so they replay as such.
            if not (
                isinstance(item, dict)
                and set(item) == {"kind", "payload"}
                and isinstance(item["kind"], str)
            ):
                raise ValueError(f"data items must be {{kind: str, payload}}, got {item!r}")
        values["data"] = data
    if tools is not None:
        for call in tools:
            if not (isinstance(call, dict) and {"id", "name", "arguments", "status"} <= set(call)):
                raise ValueError(
                    f"tool calls must be {{id, name, arguments, status, ...}}, got {call!r}"
                )
        values["tools"] = tools
    return values
