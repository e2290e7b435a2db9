"""Who may open a socket: subprotocol, Origin, token, conversation, connection limits.

Everything here is decided before `accept()`, so a refused browser sees a failed handshake
(HTTP 403) and nothing of the session. Connection limits are the exception: they are answered
after accept, with an `error` event and a close code, so a client can tell "busy" from "denied".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.websockets import WebSocket

from voicewire.llm.base import ChatMessage
from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.messages import PROTOCOL_VERSION
from voicewire.server.auth import Identity, InvalidToken, ResumeGrant

if TYPE_CHECKING:
    from voicewire.server.app import Services


@dataclass(frozen=True, slots=True)
class Resume:
    """The client asks to resume `grant.session_id` after the frame `last_seq` (§8)."""

    grant: ResumeGrant
    last_seq: int


@dataclass(frozen=True, slots=True)
class Admission:
    identity: Identity
    conversation_id: str  # "" when nothing is stored
    guest_token: str | None  # a newly issued guest's token, to be sent in session.ready
    history: list[ChatMessage]
    resume: Resume | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str  # for the server log and the close frame; never internal details


def origin_allowed(ws: WebSocket, allowed: list[str]) -> bool:
    origin = ws.headers.get("origin")
    if origin is None:
        return True  # not a browser: Origin is a browser's promise, others can forge it anyway
    if allowed:
        return origin.rstrip("/") in {a.rstrip("/") for a in allowed}
    # Same origin: the page's host must be the host the socket was opened to.
    return urlsplit(origin).netloc.lower() == ws.headers.get("host", "").lower()


async def admit(ws: WebSocket, services: Services) -> Admission | Refusal:
    settings = services.settings
    if PROTOCOL_VERSION not in ws.scope.get("subprotocols", []):
        return Refusal(f"subprotocol {PROTOCOL_VERSION} required")
    if not origin_allowed(ws, settings.allowed_origins):
        return Refusal("origin not allowed")
    token = ws.query_params.get("token")
    guest_token = None
    if token:
        try:
            identity = services.signer.verify(token)
        except InvalidToken:
            return Refusal("invalid token")
        if settings.require_token and identity.kind != "user":
            return Refusal("a user token is required")
    elif settings.require_token:
        return Refusal("a token is required")
    else:
        identity, guest_token = services.signer.new_guest()
    resume = None
    if ws.query_params.get("resume"):
        asked = _resume(ws, services, identity if token else None)
        if isinstance(asked, Refusal):
            return asked
        resume = asked
    store = services.store
    if store is None:
        return Admission(identity, "", guest_token, [], resume)
    owner = await store.identity(identity.kind, identity.subject)
    conversation = ws.query_params.get("conversation")
    if resume is not None:
        conversation = resume.grant.conversation_id
    history: list[ChatMessage] = []
    if conversation:
        if await store.conversation_owner(conversation) != owner:
            return Refusal("no such conversation")  # missing or someone else's: same answer
        history = [
            ChatMessage("user" if role == "user" else "assistant", text)
            for role, text in await store.history(conversation, settings.history_messages)
        ]
    else:
        conversation = await store.new_conversation(owner)
    return Admission(identity, conversation, guest_token, history, resume)


def _resume(ws: WebSocket, services: Services, identity: Identity | None) -> Resume | Refusal:
    """A resume is for the identity it was issued to, which must be proven by its token."""
    if identity is None:
        return Refusal("a resume needs the token of its identity")
    try:
        grant = services.signer.verify_resume(ws.query_params["resume"])
    except InvalidToken:
        return Refusal("invalid resume token")
    if grant.subject != identity.subject:
        return Refusal("invalid resume token")  # someone else's: the same answer as a forgery
    last_seq = ws.query_params.get("last_seq", "")
    if not last_seq.isdigit() or len(last_seq) > 10:
        return Refusal("last_seq must be a non-negative integer")
    return Resume(grant, int(last_seq))


class ConnectionLimits:
    """Counts open sessions, in total and per identity."""

    def __init__(self, total: int, per_identity: int) -> None:
        self.total, self.per_identity = total, per_identity
        self.open: Counter[str] = Counter()
        self.count = 0

    def acquire(self, subject: str) -> tuple[ErrorCode, CloseCode, str] | None:
        """Take a slot; or say why not (error code, close code, message)."""
        if self.count >= self.total:
            return ErrorCode.SERVER_BUSY, CloseCode.TRY_AGAIN_LATER, "the server is full"
        if self.open[subject] >= self.per_identity:
            message = f"more than {self.per_identity} open sessions for this identity"
            return ErrorCode.TOO_MANY_CONNECTIONS, CloseCode.TOO_MANY_CONNECTIONS, message
        self.open[subject] += 1
        self.count += 1
        return None

    def release(self, subject: str) -> None:
        self.count -= 1
        self.open[subject] -= 1
        if self.open[subject] <= 0:
            del self.open[subject]
