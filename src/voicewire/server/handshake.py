"""Who may open a socket: subprotocol, Origin, token, resume, conversation.

Everything here is decided before `accept()`, so a refused browser sees a failed handshake
(HTTP 403) and nothing of the session. Connection limits come next (`limits.py`), answered after
accept with an `error` event and a close code, so a client can tell "busy" from "denied". Admit,
then write: `admit` only reads the store; `open_conversation` — called once the connection holds
its slot — creates the identity and the conversation, so a refused client leaves no rows.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.websockets import WebSocket

from voicewire.llm.base import ChatMessage
from voicewire.protocol.errors import CloseCode, ErrorCode
from voicewire.protocol.messages import PROTOCOL_VERSION
from voicewire.server.auth import Identity, InvalidToken, ResumeGrant
from voicewire.server.services import Services
from voicewire.tools.history import reply_messages, whole

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Resume:
    """The client asks to resume `grant.session_id` after the frame `last_seq` (§8)."""

    grant: ResumeGrant
    last_seq: int


@dataclass(frozen=True, slots=True)
class Admission:
    identity: Identity
    conversation: str | None  # asked for (checked: it is the identity's own), or None: new
    guest_token: str | None  # a newly issued guest's token, to be sent in session.ready
    resume: Resume | None = None


@dataclass(frozen=True, slots=True)
class Opened:
    conversation_id: str  # "" when nothing is stored
    history: list[ChatMessage]


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


async def admit(
    ws: WebSocket,
    services: Services,
    *,
    subprotocol: str | None = PROTOCOL_VERSION,
    token: str | None = None,
) -> Admission | Refusal:
    """Decide, reading but never writing the store. Endpoints without a subprotocol (the
    compat endpoint) have no resume either. `token`: one the endpoint found elsewhere than in
    the `token` query parameter (the Realtime endpoint's API key)."""
    settings = services.settings
    if subprotocol is not None and subprotocol not in ws.scope.get("subprotocols", []):
        return Refusal(f"subprotocol {subprotocol} required")
    if not origin_allowed(ws, settings.allowed_origins):
        return Refusal("origin not allowed")
    token = token or ws.query_params.get("token")
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
    if subprotocol is not None and ws.query_params.get("resume"):
        asked = _resume(ws, services, identity if token else None)
        if isinstance(asked, Refusal):
            return asked
        resume = asked
    conversation = ws.query_params.get("conversation") or None
    if resume is not None:
        conversation = resume.grant.conversation_id or None
    store = services.store
    if store is not None and conversation is not None:
        # Read only: an identity seen for the first time owns no conversation yet.
        owner = await store.find_identity(identity.kind, identity.subject)
        if owner is None or await store.conversation_owner(conversation) != owner:
            return Refusal("no such conversation")  # missing or someone else's: same answer
    return Admission(identity, conversation, guest_token, resume)


async def open_conversation(admission: Admission, services: Services) -> Opened:
    """The admitted connection's conversation: created, or the asked-for one and its history."""
    store, identity = services.store, admission.identity
    if store is None:
        return Opened("", [])
    if admission.conversation is None:
        owner = await store.identity(identity.kind, identity.subject)
        return Opened(await store.new_conversation(owner), [])
    rows = await store.history_rows(admission.conversation, services.settings.history_messages)
    history: list[ChatMessage] = []
    for role, text, tools in rows:
        # A reply that called tools is given back as OpenAI messages: its calls and results.
        if role == "user":
            history.append(ChatMessage("user", text))
        else:
            history += reply_messages(text, tools)
    return Opened(admission.conversation, whole(history))


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


# The endpoint's wire format for a refusal after accept: (error code, message) → a text frame.
RefusalFrame = Callable[[ErrorCode, str], str]


@asynccontextmanager
async def admitted(
    ws: WebSocket,
    services: Services,
    *,
    subprotocol: str | None,
    refusal: RefusalFrame,
    token: str | None = None,
    answer: str | None = None,
) -> AsyncIterator[Admission | None]:
    """Admit, accept and hold a connection slot for the block; None when refused (then the
    socket is closed already: 403 at the handshake, or an error and a close code after it).
    `answer`: the subprotocol to accept with when none is required (`subprotocol` None)."""
    admission = await admit(ws, services, subprotocol=subprotocol, token=token)
    if isinstance(admission, Refusal):
        log.info("handshake refused: %s", admission.reason)
        await ws.close(CloseCode.POLICY, admission.reason)
        yield None
        return
    await ws.accept(subprotocol=subprotocol or answer)
    subject = admission.identity.subject
    refused = services.connections.acquire(subject)
    if refused is not None:
        code, close_code, message = refused
        await ws.send_text(refusal(code, message))
        await ws.close(close_code, code)
        yield None
        return
    services.metrics.sessions.inc()
    try:
        yield admission
    finally:
        services.metrics.sessions.dec()
        services.connections.release(subject)
