"""The uvicorn log config of `voicewire serve`: query secrets never reach the log."""

from __future__ import annotations

import logging
import logging.config

import httpx
import pytest
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

from voicewire.server import runner
from voicewire.server.runner import RedactQuerySecrets, log_config, redact_query


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/ws?token=abc.def&resume=xyz", "/ws?token=***&resume=***"),
        ("/ws?conversation=c1&token=abc&last_seq=4", "/ws?conversation=c1&token=***&last_seq=4"),
        ("/ws?guest_token=abc", "/ws?guest_token=***"),
        ("/ws?%74oken=abc&RESUME=x", "/ws?%74oken=***&RESUME=***"),  # as the server decodes it
        ("/ws?tokens=1&mytoken=2", "/ws?tokens=1&mytoken=2"),
        ("/ws?token=", "/ws?token=***"),
        ("/healthz", "/healthz"),
    ],
)
def test_redaction_hides_the_values_of_secret_query_parameters_only(
    line: str, expected: str
) -> None:
    assert redact_query(line) == expected


def test_the_filter_redacts_the_arguments_uvicorns_access_formatter_reads() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/conversations?token=SECRET", "1.1", 200),
        None,
    )
    assert RedactQuerySecrets().filter(record)
    assert record.args == ("127.0.0.1:5000", "GET", "/api/conversations?token=***", "1.1", 200)


def test_the_log_config_filters_both_loggers_that_print_request_lines() -> None:
    config = log_config()
    for name in ("uvicorn.access", "uvicorn.error"):
        assert config["loggers"][name]["filters"] == ["redact_query_secrets"]
    assert "filters" not in LOGGING_CONFIG["loggers"]["uvicorn.access"]  # a copy was edited


def test_applying_the_log_config_again_leaves_one_filter_per_logger() -> None:
    for _ in range(3):  # as uvicorn does for each server a process starts
        logging.config.dictConfig(log_config())
    for name in ("uvicorn.access", "uvicorn.error"):
        filters = logging.getLogger(name).filters
        assert [type(f) for f in filters] == [RedactQuerySecrets]


def test_the_thread_server_serves_on_a_socket_it_bound_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No free-port race: serving never asks for a port to bind later."""

    def no_free_port() -> int:
        raise AssertionError("serve_in_thread must not pick a port to bind later")

    monkeypatch.setattr(runner, "free_port", no_free_port)
    app = FastAPI()

    @app.get("/ping")
    def ping() -> str:
        return "pong"

    with runner.serve_in_thread(app) as url:
        assert httpx.get(f"{url}/ping", timeout=10).json() == "pong"
