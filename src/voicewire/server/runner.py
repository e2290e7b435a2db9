"""Running an app under uvicorn: its log config (no secrets in it), and a server in a thread.

uvicorn logs each request line with its query string, and clients authenticate a WebSocket with
`?token=` and resume it with `resume=` (browsers cannot set headers on a WebSocket): those
values must not end up in the server's log. `log_config()` is uvicorn's default config with a
filter that hides them; `voicewire serve` passes it to uvicorn, which applies it in every worker.
"""

from __future__ import annotations

import copy
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote_plus

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

SECRET_PARAMS = frozenset({"token", "resume", "guest_token"})
REDACTED = "***"
_PARAM = re.compile(r"([?&])([^=&#\s\"]+)=([^&#\s\"]*)")


def redact_query(text: str) -> str:
    """`text` with the values of the SECRET_PARAMS of any query string in it replaced."""

    def hide(m: re.Match[str]) -> str:
        # Decoded as the server decodes it: `%74oken=` is read as `token=` too.
        secret = unquote_plus(m[2]).lower() in SECRET_PARAMS
        return f"{m[1]}{m[2]}={REDACTED}" if secret else m[0]

    return _PARAM.sub(hide, text)


class RedactQuerySecrets(logging.Filter):
    """Hides SECRET_PARAMS values in a record's arguments (uvicorn passes the path as one).

    The arguments are edited rather than the formatted message because uvicorn's access
    formatter reads them one by one.
    """

    # All are alike, so a logger keeps one (addFilter skips equals): uvicorn applies its log
    # config again for each server, and tests start many servers in one process.
    def __eq__(self, other: object) -> bool:
        return isinstance(other, RedactQuerySecrets)

    def __hash__(self) -> int:
        return hash(RedactQuerySecrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_query(a) if isinstance(a, str) else a for a in record.args)
        elif not record.args and isinstance(record.msg, str):
            record.msg = redact_query(record.msg)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's default logging config, its request lines filtered by RedactQuerySecrets.

    HTTP requests are logged by `uvicorn.access`, WebSocket handshakes by `uvicorn.error`.
    The filter is named by import path so that worker processes (`--workers`) build their own.
    """
    config = copy.deepcopy(LOGGING_CONFIG)
    name = "redact_query_secrets"
    config.setdefault("filters", {})[name] = {"()": f"{__name__}.{RedactQuerySecrets.__name__}"}
    for logger in ("uvicorn.access", "uvicorn.error"):
        config["loggers"].setdefault(logger, {}).setdefault("filters", []).append(name)
    return config


def free_port() -> int:
    """A port free now, for a server in another process (which must bind it itself)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


START_LIMIT_S = 120.0  # a hang guard only: a busy machine may take long to load engines


@contextmanager
def serve_in_thread(app: FastAPI, *, ws_max_size: int = 262144) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 in a thread; yields the base `http://` URL.

    The socket is bound here and handed to uvicorn: a port picked first and bound later could
    be taken in between by another test or process running at the same time.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_config=log_config(), log_level="warning", ws_max_size=ws_max_size
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        # A failed start-up (the lifespan raised) ends the thread: say so instead of waiting.
        deadline = time.monotonic() + START_LIMIT_S
        while not server.started and thread.is_alive():
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        if not server.started:
            raise RuntimeError("uvicorn did not start (see the log above)")
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            # Not an assertion: a shutdown still draining (replies kept for a resume) is left
            # to finish in its daemon thread rather than holding up the caller.
            thread.join(timeout=10)
