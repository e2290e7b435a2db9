"""Redis for the resume tests: the real server on 127.0.0.1:6379 (or `VOICEWIRE_TEST_REDIS_URL`).

Unreachable, its tests are skipped with the reason — except in CI (`CI=true`), where that is a
failure. Each test gets its own key prefix, deleted afterwards.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url() -> str:
    return os.environ.get("VOICEWIRE_TEST_REDIS_URL", DEFAULT_REDIS_URL)


def require_redis() -> str:
    url = redis_url()
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 2):
            pass
    except OSError as exc:
        reason = f"Redis at {parts.hostname}:{parts.port} unreachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: Redis tests must run)", pytrace=False)
        pytest.skip(reason)
    return url


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    url = require_redis()
    prefix = f"vwtest{uuid.uuid4().hex[:8]}"
    yield prefix
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()
