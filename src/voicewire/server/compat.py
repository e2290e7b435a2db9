"""Compatibility endpoint `/ws/voice-chat/` for frontends written like the seed's (stub)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
