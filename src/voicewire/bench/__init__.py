"""Benchmarks: scripts that print a table and write JSON. Never timed assertions in tests."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from voicewire.errors import ConfigError

# What some suites import that a plain install lacks → the extra that installs it.
EXTRAS = {"psutil": "bench", "matplotlib": "bench"}


class MissingExtra(ConfigError):
    """A suite needs a package that is not installed; the message says which extra has it."""


def load_suite(module: str) -> ModuleType:
    """Import a suite's module; MissingExtra (with an install hint) if an extra is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in EXTRAS:
            raise
        raise MissingExtra(
            f"{module} needs {missing!r}."
            f" Install it with: pip install 'voicewire[{EXTRAS[missing]}]'"
        ) from exc


def write_json(path: Path, results: Any) -> None:
    """Write a suite's results (`--json FILE`), creating the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
