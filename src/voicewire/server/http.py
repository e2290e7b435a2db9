"""HTTP endpoints: health, and the caller's own conversation history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from voicewire.protocol.messages import PROTOCOL_VERSION
from voicewire.server.auth import Identity, InvalidToken
from voicewire.server.services import Services
from voicewire.storage import NotFound, Store
from voicewire.tools.history import public

router = APIRouter()


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, str]:
    s = _services(request)
    return {"status": "ok", "protocol": PROTOCOL_VERSION, "llm": s.llm.name, "tts": s.tts.name}


async def _caller(
    request: Request, authorization: str | None, token: str | None
) -> tuple[Store, str]:
    """The store and the caller's identity id, from `Authorization: Bearer` or `?token=`."""
    s = _services(request)
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    if not token:
        raise HTTPException(401, "a token is required", {"WWW-Authenticate": "Bearer"})
    try:
        identity: Identity = s.signer.verify(token)
    except InvalidToken:
        raise HTTPException(401, "invalid token", {"WWW-Authenticate": "Bearer"}) from None
    if s.store is None:
        raise HTTPException(404, "this server stores no conversations")
    return s.store, await s.store.identity(identity.kind, identity.subject)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    registry = _services(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


Auth = Annotated[str | None, Header()]
TokenQuery = Annotated[str | None, Query()]


@router.get("/api/conversations")
async def conversations(
    request: Request, authorization: Auth = None, token: TokenQuery = None
) -> list[dict[str, Any]]:
    store, who = await _caller(request, authorization, token)
    return [c.model_dump(mode="json") for c in await store.list_conversations(who)]


@router.get("/api/conversations/{conversation_id}/messages")
async def messages(
    conversation_id: str, request: Request, authorization: Auth = None, token: TokenQuery = None
) -> list[dict[str, Any]]:
    store, who = await _caller(request, authorization, token)
    try:
        found = await store.messages(who, conversation_id)
    except NotFound:
        # The same answer whether it does not exist or is someone else's.
        raise HTTPException(404, "no such conversation") from None
    return [_shown(m.model_dump(mode="json")) for m in found]


def _shown(message: dict[str, Any]) -> dict[str, Any]:
    """A stored message as its owner sees it: tools' results only where the app allows."""
    message["tools"] = [public(call) for call in message.get("tools") or []]
    return message
