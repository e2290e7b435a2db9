"""Benchmarks: scripts that print a table and write JSON. Never timed assertions in tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_json(path: Path, results: Any) -> None:
    """Write a suite's results (`--json FILE`), creating the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
